//! One `hermes lake download` per destination: `DEST/.hermes-download.lock`, holding the pid of
//! the run that owns `DEST`.
//!
//! The lock is an OS file lock (`File::try_lock`, `flock` on Linux) on that file, not the
//! file's existence: the kernel drops it when its process dies however it dies, so a lock file
//! left behind by a killed run is recognised as stale without guessing from the pid (which
//! `/proc/<pid>` cannot do once the pid is reused). The pid inside is for people: a second run
//! fails at once with an error naming the file and the holder's pid, and a run that takes over a
//! stale file warns with the pid it found there. The file is removed when the [`DestLock`] is
//! dropped, on success and on error exits alike.
//!
//! Owns the lock file only; what is downloaded is [`super::fetch`]'s.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside `DEST`.
pub const LOCK_FILE: &str = ".hermes-download.lock";

/// Attempts when the lock file is removed between opening and locking it (a holder finishing).
const ATTEMPTS: usize = 5;

/// Why `DEST` could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock.
    Held {
        /// The lock file.
        path: PathBuf,
        /// The pid written in it, when readable.
        pid: Option<u32>,
    },
    /// The lock file (or `DEST`) could not be created, read, locked or written.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Held { path, pid } => {
                write!(f, "{} is held by ", path.display())?;
                match pid {
                    Some(pid) => write!(f, "pid {pid}")?,
                    None => f.write_str("a process whose pid is not written yet")?,
                }
                f.write_str(
                    ": another `hermes lake download` is writing into this directory; wait for \
                     it to finish or use another --dest",
                )
            }
            Self::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LockError {}

/// The held lock; dropping it removes the file and releases the lock.
#[derive(Debug)]
pub struct DestLock {
    path: PathBuf,
    /// Kept open: the OS lock lives as long as this handle.
    _file: File,
    stale_pid: Option<u32>,
}

impl DestLock {
    /// Creates `dest` if needed and locks it for this process.
    ///
    /// # Errors
    /// [`LockError::Held`] when another process holds the lock, [`LockError::Io`] when the
    /// directory or the file cannot be created, locked or written (e.g. a file system without
    /// file locks).
    pub fn acquire(dest: &Path) -> Result<Self, LockError> {
        std::fs::create_dir_all(dest).map_err(io_at(dest))?;
        let path = dest.join(LOCK_FILE);
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_at(&path))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Held {
                        pid: read_pid(&mut file),
                        path,
                    });
                }
                Err(TryLockError::Error(error)) => return Err(LockError::Io { path, error }),
            }
            // The holder before us may have removed the file after we opened it: then we
            // locked an unlinked file, and a third run may lock the new one. Lock what the
            // path names now.
            let same = match (file.metadata(), std::fs::metadata(&path)) {
                (Ok(a), Ok(b)) => same_file(&a, &b),
                _ => false,
            };
            if !same {
                last = Some(path.clone());
                continue;
            }
            let stale_pid = read_pid(&mut file);
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| writeln!(file, "{}", std::process::id()))
                .and_then(|()| file.sync_all())
                .map_err(io_at(&path))?;
            return Ok(Self {
                path,
                _file: file,
                stale_pid,
            });
        }
        Err(LockError::Io {
            path: last.unwrap_or(path),
            error: std::io::Error::other(format!(
                "the lock file kept being replaced ({ATTEMPTS} attempts)"
            )),
        })
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pid found in a lock file no process held any more (a run that was killed), if any.
    #[must_use]
    pub fn stale_pid(&self) -> Option<u32> {
        self.stale_pid
    }
}

impl Drop for DestLock {
    fn drop(&mut self) {
        // Removed while still locked, so no other run can lock this file and then lose it.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether two metadata describe the same file (device and inode).
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Elsewhere an open file cannot be removed, so the path still names it.
#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// The pid written in the lock file, if it holds one.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> LockError + '_ {
    move |error| LockError::Io {
        path: path.to_path_buf(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_and_names_the_holder_then_the_file_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("new/dir");
        let held = DestLock::acquire(&dest).unwrap();
        assert_eq!(held.stale_pid(), None);
        let text = std::fs::read_to_string(dest.join(LOCK_FILE)).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        // A second handle conflicts even within one process (flock is per open file).
        match DestLock::acquire(&dest) {
            Err(e @ LockError::Held { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(LOCK_FILE), "{msg}");
                assert!(
                    msg.contains(&format!("pid {}", std::process::id())),
                    "{msg}"
                );
            }
            other => panic!("expected Held, got {other:?}"),
        }
        // The failed attempt did not remove the holder's file.
        assert!(dest.join(LOCK_FILE).is_file());
        drop(held);
        assert!(!dest.join(LOCK_FILE).exists());
        // An unheld file with a pid is stale: taken over, its pid reported.
        std::fs::write(dest.join(LOCK_FILE), "4194999\n").unwrap();
        let again = DestLock::acquire(&dest).unwrap();
        assert_eq!(again.stale_pid(), Some(4_194_999));
        assert_eq!(again.path(), dest.join(LOCK_FILE));
    }
}
