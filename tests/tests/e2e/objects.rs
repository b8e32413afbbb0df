//! The S3 object store on its own, against the S3-compatible server `cargo xtask test` runs:
//! multipart uploads of big files, ranged reads, and what a missing object looks like.

use mit_server::config::S3Config;
use mit_server::objects::{ObjectError, S3Objects};
use mit_tests::service_url;
use tokio::io::AsyncReadExt;

fn store() -> S3Objects {
    let endpoint = service_url("MIT_TEST_S3_ENDPOINT");
    S3Objects::new(&S3Config {
        public_endpoint: endpoint.clone(),
        endpoint,
        region: "us-east-1".into(),
        bucket: service_url("MIT_TEST_S3_BUCKET"),
        access_key: service_url("MIT_TEST_S3_ACCESS_KEY"),
        secret_key: service_url("MIT_TEST_S3_SECRET_KEY"),
    })
    .expect("an S3 store")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_big_file_goes_up_in_parts_and_reads_back_by_range() {
    // 5 MiB parts (the S3 minimum): 12 MiB go up as three parts.
    let store = store().with_part_size(5 << 20);
    let file = tempfile::NamedTempFile::new().expect("a file");
    let content: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(file.path(), &content).expect("write");
    let key = format!("tests/{}.bin", uuid::Uuid::new_v4());
    assert!(!store.contains(&key).await.expect("head"));
    store.put_file(&key, file.path(), "application/octet-stream").await.expect("multipart upload");
    assert!(store.contains(&key).await.expect("head"));
    assert!(file.path().exists(), "S3 copies; the caller removes the local file");

    let mut across_parts = Vec::new();
    let (first, last) = ((5 << 20) - 10, (5 << 20) + 9);
    store.read(&key, first..=last).await.expect("ranged read").read_to_end(&mut across_parts).await.expect("bytes");
    assert_eq!(across_parts, content[first as usize..=last as usize], "the parts were joined in order");
    let mut whole = Vec::new();
    store.read(&key, 0..=content.len() as u64 - 1).await.expect("read").read_to_end(&mut whole).await.expect("bytes");
    assert!(whole == content, "12 MiB round-trip");

    // Uploading again (a retried job) replaces the object harmlessly.
    store.put_file(&key, file.path(), "application/octet-stream").await.expect("upload again");
    let link = store.presigned_get(&key, std::time::Duration::from_secs(60));
    let fetched = reqwest::get(&link).await.expect("presigned GET");
    assert_eq!((fetched.status().as_u16(), fetched.bytes().await.expect("body").len()), (200, content.len()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_object_and_an_unreachable_store_are_told_apart() {
    let store = store();
    let missing = store.read("tests/none.bin", 0..=9).await;
    assert!(matches!(missing, Err(ObjectError::Missing(_))), "{:?}", missing.err());
    let down = S3Objects::new(&S3Config {
        endpoint: "http://127.0.0.1:9".into(),
        public_endpoint: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
        bucket: "nowhere".into(),
        access_key: "k".into(),
        secret_key: "s".into(),
    })
    .expect("a store");
    assert!(matches!(down.contains("x").await, Err(ObjectError::Unavailable(_))));
}
