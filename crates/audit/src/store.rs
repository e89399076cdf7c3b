//! Where segment files live: a small trait, and a local directory behind it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Storage for the log's segments: named, append-only byte strings.
///
/// The log calls [`SegmentStore::sync`] before it acknowledges an append, and relies on it
/// making every byte appended so far (and a newly created segment's name) durable.
pub trait SegmentStore: Send {
    /// Names of all segments, in any order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// The whole content of a segment.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// `len` bytes of a segment from `offset`; fails if the segment is shorter.
    fn read_at(&self, name: &str, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Appends bytes to a segment, creating it if missing.
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes the segment's content durable (fsync), and its directory entry after a create.
    fn sync(&mut self, name: &str) -> io::Result<()>;
    /// Cuts a segment to `len` bytes.
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()>;
}

/// File name suffix of a segment in a [`LocalDir`].
const SEGMENT_SUFFIX: &str = ".seg";
/// Lock file that keeps a second writer out of the directory.
const LOCK_FILE: &str = "LOCK";

/// Segments as `*.seg` files in one local directory.
///
/// [`LocalDir::new`] takes an exclusive advisory lock on `LOCK` in the directory, held until
/// the store is dropped (or the process dies), so two writers never share a log.
#[derive(Debug)]
pub struct LocalDir {
    dir: PathBuf,
    /// The writer's lock; `None` for a reader ([`LocalDir::read_only`]), which never writes.
    _lock: Option<File>,
    /// Append handle of the segment written last; older segments are never appended to.
    writer: Option<(String, File)>,
    /// A segment was created since the directory was last synced.
    dir_dirty: bool,
}

impl LocalDir {
    /// Opens (creating if missing) the directory and locks it for writing.
    ///
    /// Fails with [`io::ErrorKind::WouldBlock`] when another `LocalDir` holds the lock.
    pub fn new(dir: &Path) -> io::Result<Self> {
        if !dir.is_dir() {
            fs::create_dir_all(dir)?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(parent)?.sync_all()?;
            }
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("audit log {} is locked by another writer", dir.display()),
                ))
            }
            Err(TryLockError::Error(err)) => return Err(err),
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: Some(lock),
            writer: None,
            dir_dirty: false,
        })
    }

    /// Opens an existing directory for reading only, beside a live writer: no lock is taken
    /// and every write (append, sync, truncate) fails with `PermissionDenied`.
    pub fn read_only(dir: &Path) -> io::Result<Self> {
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such log folder", dir.display()),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: None,
            writer: None,
            dir_dirty: false,
        })
    }

    fn check_writable(&self) -> io::Result<()> {
        match self._lock {
            Some(_) => Ok(()),
            None => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("audit log {} is open read-only", self.dir.display()),
            )),
        }
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !plain {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("segment name {name:?} is not a plain file name"),
            ));
        }
        Ok(self.dir.join(name))
    }

    fn writer(&mut self, name: &str) -> io::Result<&mut File> {
        if self.writer.as_ref().is_none_or(|(open, _)| open != name) {
            let path = self.path(name)?;
            let file = match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => {
                    self.dir_dirty = true;
                    file
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    OpenOptions::new().append(true).open(&path)?
                }
                Err(err) => return Err(err),
            };
            self.writer = Some((name.to_owned(), file));
        }
        match &mut self.writer {
            Some((_, file)) => Ok(file),
            None => Err(io::Error::other("segment writer vanished")),
        }
    }
}

impl SegmentStore for LocalDir {
    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for dirent in fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            if !dirent.file_type()?.is_file() {
                continue;
            }
            if let Ok(name) = dirent.file_name().into_string() {
                if name.ends_with(SEGMENT_SUFFIX) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(name)?)
    }

    fn read_at(&self, name: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut file = File::open(self.path(name)?)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = vec![0; len];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        self.writer(name)?.write_all(bytes)
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.check_writable()?;
        match &self.writer {
            Some((open, file)) if open == name => file.sync_data()?,
            _ => File::open(self.path(name)?)?.sync_data()?,
        }
        if self.dir_dirty {
            File::open(&self.dir)?.sync_all()?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.check_writable()?;
        match &self.writer {
            Some((open, file)) if open == name => file.set_len(len),
            _ => OpenOptions::new()
                .write(true)
                .open(self.path(name)?)?
                .set_len(len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalDir::new(dir.path()).unwrap();
        let err = LocalDir::new(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(first);
        LocalDir::new(dir.path()).unwrap();
    }

    #[test]
    fn appends_reads_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LocalDir::new(&dir.path().join("nested/log")).unwrap();
        store.append("a.seg", b"hello ").unwrap();
        store.append("b.seg", b"x").unwrap();
        store.append("a.seg", b"world").unwrap();
        store.sync("a.seg").unwrap();
        store.sync("b.seg").unwrap();
        assert_eq!(store.read("a.seg").unwrap(), b"hello world");
        assert_eq!(store.read_at("a.seg", 6, 5).unwrap(), b"world");
        assert!(store.read_at("a.seg", 6, 6).is_err());
        store.truncate("a.seg", 5).unwrap();
        assert_eq!(store.read("a.seg").unwrap(), b"hello");
        let mut names = store.list().unwrap();
        names.sort();
        assert_eq!(names, ["a.seg", "b.seg"]);
    }

    #[test]
    fn a_reader_needs_no_lock_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LocalDir::new(dir.path()).unwrap();
        writer.append("a.seg", b"x").unwrap();
        let mut reader = LocalDir::read_only(dir.path()).unwrap();
        assert_eq!(reader.read("a.seg").unwrap(), b"x");
        for e in [
            reader.append("a.seg", b"y").unwrap_err(),
            reader.truncate("a.seg", 0).unwrap_err(),
            reader.sync("a.seg").unwrap_err(),
        ] {
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        }
        assert_eq!(writer.read("a.seg").unwrap(), b"x");
        assert!(LocalDir::read_only(&dir.path().join("nope")).is_err());
    }

    #[test]
    fn path_like_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LocalDir::new(dir.path()).unwrap();
        for name in ["", "../x.seg", "a/b.seg", ".hidden.seg"] {
            let err = store.append(name, b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
    }
}
