//! Objects in an S3-compatible bucket: requests are presigned with rusty-s3 and sent with
//! reqwest. Big files go up in parts (S3 caps a single PUT and a failed part is cheap to redo);
//! download links are signed for the public endpoint, since the one the server uses is often
//! an internal host name that browsers cannot reach.

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use futures::TryStreamExt;
use mit_domain::ports::recordings::FileReader;
use reqwest::{Body, Client, StatusCode, Url};
use rusty_s3::actions::{CompleteMultipartUploadResponse, CreateMultipartUpload};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use tokio::io::AsyncReadExt;
use tokio_util::io::{ReaderStream, StreamReader};

use super::ObjectError;
use crate::config::S3Config;

/// How long the requests the server itself sends stay valid.
const REQUEST_TTL: Duration = Duration::from_secs(300);
/// Files up to this size go up in one PUT; bigger ones in parts of this size (S3 wants at
/// least 5 MiB for every part but the last).
const PART_SIZE: usize = 16 << 20;

/// A bucket, and the endpoint download links are signed for.
pub struct S3Objects {
    client: Client,
    bucket: Bucket,
    public_bucket: Bucket,
    credentials: Credentials,
    part_size: usize,
}

impl S3Objects {
    /// The bucket `config` names.
    pub fn new(config: &S3Config) -> Result<Self, ObjectError> {
        let bucket = bucket_at(&config.endpoint, config)?;
        let public_bucket = bucket_at(&config.public_endpoint, config)?;
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ObjectError::Config(format!("cannot build the HTTP client: {e}")))?;
        let credentials = Credentials::new(&config.access_key, &config.secret_key);
        Ok(Self { client, bucket, public_bucket, credentials, part_size: PART_SIZE })
    }

    /// Uploads in parts of `bytes` (tests use this to exercise multipart with small files).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(5 << 20);
        self
    }

    /// Uploads the file at `path` as `key`, and checks the stored object has the file's size
    /// (the caller deletes the file next, so "uploaded" must mean it).
    pub async fn put_file(&self, key: &str, path: &Path, media_type: &str) -> Result<(), ObjectError> {
        let file = tokio::fs::File::open(path).await?;
        let size = file.metadata().await?.len();
        if size <= self.part_size as u64 {
            let url = self.bucket.put_object(Some(&self.credentials), key).sign(REQUEST_TTL);
            let body = Body::wrap_stream(ReaderStream::new(file));
            let request = self.client.put(url).header("content-type", media_type).header("content-length", size).body(body);
            expect_success(request.send().await, key).await?;
        } else {
            self.put_in_parts(key, file, media_type).await?;
        }
        match self.size_of(key).await? {
            Some(stored) if stored == size => Ok(()),
            stored => Err(ObjectError::Unavailable(format!("{key} was stored with {stored:?} bytes, not {size}"))),
        }
    }

    async fn put_in_parts(&self, key: &str, mut file: tokio::fs::File, media_type: &str) -> Result<(), ObjectError> {
        let mut create = CreateMultipartUpload::new(&self.bucket, Some(&self.credentials), key);
        create.headers_mut().insert("content-type", media_type.to_string());
        let response =
            expect_success(self.client.post(create.sign(REQUEST_TTL)).header("content-type", media_type).send().await, key).await?;
        let text = response.text().await.map_err(unavailable)?;
        let upload = CreateMultipartUpload::parse_response(&text)
            .map_err(|e| ObjectError::Unavailable(format!("bad CreateMultipartUpload answer: {e}")))?;
        let upload_id = upload.upload_id().to_string();
        match self.send_parts(key, &mut file, &upload_id).await {
            Ok(etags) => {
                let complete =
                    self.bucket.complete_multipart_upload(Some(&self.credentials), key, &upload_id, etags.iter().map(String::as_str));
                let url = complete.sign(REQUEST_TTL);
                let body = complete.body();
                let response = expect_success(self.client.post(url).body(body).send().await, key).await?;
                // S3 may answer 200 and still fail: the body says which.
                let text = response.text().await.map_err(unavailable)?;
                CompleteMultipartUploadResponse::parse(&text).map(|_| ()).map_err(|_| {
                    ObjectError::Unavailable(format!(
                        "completing the upload of {key} failed: {}",
                        text.chars().take(300).collect::<String>()
                    ))
                })
            }
            Err(error) => {
                // Parts left behind cost storage until aborted.
                let abort = self.bucket.abort_multipart_upload(Some(&self.credentials), key, &upload_id).sign(REQUEST_TTL);
                let _ = self.client.delete(abort).send().await;
                Err(error)
            }
        }
    }

    async fn send_parts(&self, key: &str, file: &mut tokio::fs::File, upload_id: &str) -> Result<Vec<String>, ObjectError> {
        let mut etags = Vec::new();
        let mut buffer = vec![0u8; self.part_size];
        for number in 1u16.. {
            let filled = fill(file, &mut buffer).await?;
            if filled == 0 {
                break;
            }
            let url = self.bucket.upload_part(Some(&self.credentials), key, number, upload_id).sign(REQUEST_TTL);
            let response = expect_success(self.client.put(url).body(buffer[..filled].to_vec()).send().await, key).await?;
            let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
            etags.push(etag.ok_or_else(|| ObjectError::Unavailable(format!("part {number} of {key} came back without an ETag")))?);
        }
        Ok(etags)
    }

    /// The bucket answers a signed HEAD.
    pub async fn check(&self) -> Result<(), ObjectError> {
        let url = self.bucket.head_bucket(Some(&self.credentials)).sign(REQUEST_TTL);
        let response = self.client.head(url).send().await.map_err(unavailable)?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(ObjectError::Unavailable(format!("HEAD bucket `{}`: {status}", self.bucket.name()))),
        }
    }

    /// Whether `key` exists.
    pub async fn contains(&self, key: &str) -> Result<bool, ObjectError> {
        Ok(self.size_of(key).await?.is_some())
    }

    /// The size of the object at `key`, if there is one.
    async fn size_of(&self, key: &str) -> Result<Option<u64>, ObjectError> {
        let url = self.bucket.head_object(Some(&self.credentials), key).sign(REQUEST_TTL);
        let response = self.client.head(url).send().await.map_err(unavailable)?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let length = response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
                length.map(Some).ok_or_else(|| ObjectError::Unavailable(format!("HEAD {key} gave no Content-Length")))
            }
            status => Err(ObjectError::Unavailable(format!("HEAD {key}: {status}"))),
        }
    }

    /// Bytes `range` of `key`, streamed.
    pub async fn read(&self, key: &str, range: RangeInclusive<u64>) -> Result<FileReader, ObjectError> {
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(REQUEST_TTL);
        let request = self.client.get(url).header("range", format!("bytes={}-{}", range.start(), range.end()));
        let response = expect_success(request.send().await, key).await?;
        let bytes = response.bytes_stream().map_err(std::io::Error::other);
        Ok(Box::pin(StreamReader::new(bytes)))
    }

    /// A GET link for `key` on the public endpoint, valid for `ttl`.
    pub fn presigned_get(&self, key: &str, ttl: Duration) -> String {
        self.public_bucket.get_object(Some(&self.credentials), key).sign(ttl).to_string()
    }
}

fn bucket_at(endpoint: &str, config: &S3Config) -> Result<Bucket, ObjectError> {
    let url: Url = endpoint.parse().map_err(|e| ObjectError::Config(format!("`{endpoint}` is not a URL: {e}")))?;
    // Path style works with every S3-compatible server (virtual hosts need DNS for each bucket).
    Bucket::new(url, UrlStyle::Path, config.bucket.clone(), config.region.clone())
        .map_err(|e| ObjectError::Config(format!("bucket `{}` at `{endpoint}`: {e}", config.bucket)))
}

/// Reads until `buffer` is full or the file ends.
async fn fill(file: &mut tokio::fs::File, buffer: &mut [u8]) -> Result<usize, ObjectError> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = file.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

async fn expect_success(sent: reqwest::Result<reqwest::Response>, key: &str) -> Result<reqwest::Response, ObjectError> {
    let response = sent.map_err(unavailable)?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::NOT_FOUND {
        return Err(ObjectError::Missing(key.to_string()));
    }
    let body = response.text().await.unwrap_or_default();
    Err(ObjectError::Unavailable(format!("{key}: {status}: {}", body.chars().take(300).collect::<String>())))
}

/// A transport error, without its URL: a presigned URL carries a signature.
fn unavailable(error: reqwest::Error) -> ObjectError {
    ObjectError::Unavailable(error.without_url().to_string())
}
