//! How the binary reports failure: one clear line on stderr and an exit code that tells a
//! caller (a script, systemd's restart policy) what kind of failure it was.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure (IO error, internal error): retrying may help |
//! | 2 | usage error (bad flags), from clap |
//! | 65 | bad input data or parameters (sysexits `EX_DATAERR`): fix the input, do not retry |
//! | 66 | an input file cannot be opened (sysexits `EX_NOINPUT`) |
//! | 78 | invalid configuration (sysexits `EX_CONFIG`): systemd must not restart-loop on it |

use std::fmt;
use std::process::ExitCode;

/// Marks an error as caused by the user's input (file content, flags' values), not by Hermes.
#[derive(Debug)]
pub struct BadInput(pub String);

impl BadInput {
    /// A bad-input error with this message, as an `anyhow::Error`.
    #[must_use]
    #[allow(clippy::new_ret_no_self)]
    pub fn new(msg: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(BadInput(msg.into()))
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Marks an error as an input that cannot be opened (missing, unreadable, a directory).
#[derive(Debug)]
pub struct NoInput(pub String);

impl NoInput {
    /// A no-input error with this message, as an `anyhow::Error`.
    #[must_use]
    #[allow(clippy::new_ret_no_self)]
    pub fn new(msg: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(NoInput(msg.into()))
    }
}

impl fmt::Display for NoInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoInput {}

/// Marks an error as invalid configuration (a config file, `HERMES__` variable or flag value).
#[derive(Debug)]
pub struct ConfigError(pub String);

impl ConfigError {
    /// A configuration error with this message, as an `anyhow::Error`.
    #[must_use]
    #[allow(clippy::new_ret_no_self)]
    pub fn new(msg: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(ConfigError(msg.into()))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Opens an input file, or fails with a [`NoInput`] error naming it (a directory included).
///
/// # Errors
/// [`NoInput`] when the path is a directory or cannot be opened.
pub fn open_input(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    if path.is_dir() {
        return Err(NoInput::new(format!(
            "cannot open {}: is a directory",
            path.display()
        )));
    }
    std::fs::File::open(path)
        .map_err(|e| NoInput::new(format!("cannot open {}: {e}", path.display())))
}

/// Whether the error is a closed stdout (`hermes … | head`): not a failure of hermes.
#[must_use]
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Exit code for bad input data or parameters.
pub const EXIT_DATA: u8 = 65;
/// Exit code for an input file that cannot be opened.
pub const EXIT_NO_INPUT: u8 = 66;
/// Exit code for invalid configuration.
pub const EXIT_CONFIG: u8 = 78;

/// The exit code for an error, from what caused it.
#[must_use]
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if cause.is::<ConfigError>() {
            return ExitCode::from(EXIT_CONFIG);
        }
        if cause.is::<BadInput>() || cause.is::<strategies::Error>() {
            return ExitCode::from(EXIT_DATA);
        }
        if cause.is::<NoInput>() {
            return ExitCode::from(EXIT_NO_INPUT);
        }
    }
    ExitCode::FAILURE
}

/// The error as one line: the chain joined with ": ", newlines flattened.
#[must_use]
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}").replace(['\n', '\r'], " ")
}
