//! Placeholder: filled in by the bars work of issue 2.
