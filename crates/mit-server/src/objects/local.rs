//! Objects as files under a directory (the dev default, and single-node deployments).

use std::io::SeekFrom;
use std::ops::RangeInclusive;
use std::path::{Component, Path, PathBuf};

use mit_domain::ports::recordings::FileReader;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::ObjectError;

/// A directory of objects; a key is a relative path.
pub struct LocalObjects {
    root: PathBuf,
}

impl LocalObjects {
    /// Objects under `root` (created on first write).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Moves `path` to `key`: a rename when both are on one filesystem (atomic), else a copy
    /// made durable before it replaces anything.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), ObjectError> {
        let target = self.path_of(key)?;
        let parent = target.parent().ok_or_else(|| ObjectError::Config(format!("key `{key}` has no directory")))?;
        tokio::fs::create_dir_all(parent).await?;
        if tokio::fs::rename(path, &target).await.is_err() {
            let partial = target.with_extension("partial");
            tokio::fs::copy(path, &partial).await?;
            tokio::fs::File::open(&partial).await?.sync_all().await?;
            tokio::fs::rename(&partial, &target).await?;
            tokio::fs::remove_file(path).await?;
        }
        // The rename is durable once the directory is.
        tokio::fs::File::open(parent).await?.sync_all().await?;
        Ok(())
    }

    /// The directory exists (it is made if missing) and is a directory.
    pub async fn check(&self) -> Result<(), ObjectError> {
        tokio::fs::create_dir_all(&self.root).await?;
        Ok(())
    }

    /// Whether `key` exists.
    pub async fn contains(&self, key: &str) -> Result<bool, ObjectError> {
        Ok(tokio::fs::try_exists(self.path_of(key)?).await?)
    }

    /// Bytes `range` of `key`.
    pub async fn read(&self, key: &str, range: RangeInclusive<u64>) -> Result<FileReader, ObjectError> {
        let mut file = match tokio::fs::File::open(self.path_of(key)?).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(ObjectError::Missing(key.to_string())),
            Err(error) => return Err(error.into()),
        };
        file.seek(SeekFrom::Start(*range.start())).await?;
        Ok(Box::pin(file.take(range.end() - range.start() + 1)))
    }

    /// The file of `key`; keys are ours, but one that could leave the directory is refused.
    fn path_of(&self, key: &str) -> Result<PathBuf, ObjectError> {
        let relative = Path::new(key);
        if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(ObjectError::Config(format!("key `{key}` is not a plain relative path")));
        }
        Ok(self.root.join(relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_moved_file_reads_back_by_range_and_moving_again_is_harmless() {
        let dir = std::env::temp_dir().join(format!("mit-objects-{}", uuid::Uuid::new_v4()));
        let store = LocalObjects::new(dir.join("store"));
        let source = dir.join("live.ogg");
        tokio::fs::create_dir_all(&dir).await.expect("dir");
        tokio::fs::write(&source, b"0123456789").await.expect("write");
        store.put_file("m/r.ogg", &source).await.expect("put");
        assert!(store.contains("m/r.ogg").await.expect("contains"));
        assert!(!tokio::fs::try_exists(&source).await.expect("stat"), "moved, not copied");
        let mut part = String::new();
        store.read("m/r.ogg", 2..=5).await.expect("read").read_to_string(&mut part).await.expect("bytes");
        assert_eq!(part, "2345");
        assert!(matches!(store.read("m/none.ogg", 0..=1).await, Err(ObjectError::Missing(_))));
        assert!(matches!(store.contains("../escape").await, Err(ObjectError::Config(_))));
        tokio::fs::remove_dir_all(&dir).await.ok();
    }
}
