//! A directory that can be reloaded while the pipeline runs.

use crate::{Directory, DirectoryError, DirectorySummary};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A handle on the current directory, shared by every stage that resolves events; cloning it
/// shares the same directory. Readers take an `Arc` snapshot with [`SharedDirectory::current`]
/// (one short read lock) and keep using it while a reload swaps in the next one.
#[derive(Debug, Clone)]
pub struct SharedDirectory {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    current: RwLock<Arc<Directory>>,
    generation: AtomicU64,
}

impl SharedDirectory {
    /// Loads the directory folder `path` (see [`Directory::load_dir`]) and remembers the path
    /// for [`SharedDirectory::reload`].
    pub fn load(path: impl AsRef<Path>) -> Result<SharedDirectory, DirectoryError> {
        let path = path.as_ref().to_path_buf();
        let directory = Directory::load_dir(&path)?;
        Ok(SharedDirectory::new(path, directory))
    }

    /// Wraps an already loaded directory; `reload` will read `path`.
    pub fn new(path: impl Into<PathBuf>, directory: Directory) -> SharedDirectory {
        SharedDirectory {
            inner: Arc::new(Inner {
                path: path.into(),
                current: RwLock::new(Arc::new(directory)),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// The directory in force now (a cheap `Arc` clone).
    pub fn current(&self) -> Arc<Directory> {
        let guard = self
            .inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard)
    }

    /// Reads the folder again and swaps the new directory in; on error the previous directory
    /// stays in force and the error is returned (and logged).
    pub fn reload(&self) -> Result<DirectorySummary, DirectoryError> {
        match Directory::load_dir(&self.inner.path) {
            Ok(directory) => {
                let summary = directory.summary();
                self.replace(directory);
                tracing::info!(path = %self.inner.path.display(), %summary, "directory reloaded");
                Ok(summary)
            }
            Err(error) => {
                tracing::warn!(path = %self.inner.path.display(), %error, "directory reload failed; keeping the previous directory");
                Err(error)
            }
        }
    }

    /// Swaps in a directory built elsewhere.
    pub fn replace(&self, directory: Directory) {
        let next = Arc::new(directory);
        let mut guard = self
            .inner
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = next;
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// How many times the directory was replaced since it was created (0 = the first load).
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// The folder that `reload` reads.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}
