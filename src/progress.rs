//! A progress bar for long CLI runs (backtests, lake ingests): a thin wrapper over
//! `indicatif` that draws on stderr only when stderr is a terminal, so logs, pipes and systemd
//! journals never receive bar redraws. It owns only the display; callers own the counting and
//! call [`Progress::inc`] once per chunk of work (not per bar or per row).

#![allow(
    dead_code,
    reason = "used by the backtest command once the lead wires it in (remove then)"
)]

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar template: label, bar, counts, percentage and estimated time left.
const TEMPLATE: &str = "{prefix} [{bar:40}] {human_pos}/{human_len} ({percent}%) eta {eta}";

/// A progress bar over `total_units` units of work, visible only on a terminal.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar labelled `label` over `total_units` units, drawn on stderr if stderr is a terminal
    /// and hidden otherwise (counting still works, nothing is printed).
    #[must_use]
    pub fn new(total_units: u64, label: &str) -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::with_target(total_units, label, target)
    }

    /// A bar that never draws, whatever stderr is (for tests and `--quiet`).
    #[must_use]
    pub fn hidden(total_units: u64, label: &str) -> Self {
        Self::with_target(total_units, label, ProgressDrawTarget::hidden())
    }

    fn with_target(total_units: u64, label: &str, target: ProgressDrawTarget) -> Self {
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total_units), target)
            .with_style(style)
            .with_prefix(label.to_string());
        Self { bar }
    }

    /// Advances the bar by `n` units (an atomic add; redraws are rate-limited by indicatif).
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Units done so far.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Whether the bar draws anything (false when stderr is not a terminal).
    #[must_use]
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Marks the work finished (the bar jumps to its total), leaving it on screen.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_bar_counts_without_drawing() {
        let p = Progress::hidden(10, "backtest");
        assert!(!p.is_visible());
        p.inc(3);
        p.inc(4);
        assert_eq!(p.position(), 7);
        p.finish();
        assert_eq!(p.position(), 10);
    }

    #[test]
    fn new_follows_stderr_terminal() {
        let p = Progress::new(5, "ingest");
        assert_eq!(p.is_visible(), std::io::stderr().is_terminal());
        p.inc(5);
        p.finish();
        assert_eq!(p.position(), 5);
    }
}
