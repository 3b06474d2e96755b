//! Placeholder: filled in by the chiarella work of issue 2.
