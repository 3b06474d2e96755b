//! Placeholder: filled in by the indicators work of issue 2.
