//! Placeholder: filled in by the hmm work of issue 2.
