//! Placeholder: filled in by the allocation work of issue 2.
