//! S3 store against a real `moto_server` on 127.0.0.1: round trips, single and multipart uploads
//! with sha256, and atomicity when the server goes away mid-upload.

use crate::harness;

use std::sync::atomic::Ordering;

use harness::{s3_options, s3_store, Moto, Proxy};
use kernel_packer::store::{S3Options, Store};

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn small_multipart(endpoint: &str) -> S3Options {
    S3Options {
        multipart_threshold: 6 << 20,
        part_size: 5 << 20,
        ..s3_options(endpoint)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_head_list_delete_with_sha256() {
    let moto = Moto::start();
    let store = s3_store(&moto.endpoint(), "pkgs", "mirror/", None).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.deb");
    let bytes = data(100_000, 1);
    std::fs::write(&src, &bytes).unwrap();
    let sha = kernel_packer::names::sha256_hex(&bytes);

    let info = store
        .put_file("http---x-a.deb", &src, Some(&sha))
        .await
        .unwrap();
    assert_eq!(info.sha256.as_deref(), Some(sha.as_str()));
    store
        .put_bytes("index/b.json", b"{}".to_vec())
        .await
        .unwrap();

    let head = store.head("http---x-a.deb").await.unwrap().unwrap();
    assert_eq!(
        (head.size, head.sha256.as_deref()),
        (100_000, Some(sha.as_str()))
    );
    assert!(store.head("nope").await.unwrap().is_none());
    assert!(store.get_bytes("nope").await.unwrap().is_none());

    assert_eq!(
        store.keys("").await.unwrap(),
        ["http---x-a.deb", "index/b.json"]
    );
    assert_eq!(store.keys("index/").await.unwrap(), ["index/b.json"]);
    // The prefix is really applied in the bucket.
    let raw = store
        .client()
        .list_objects_v2()
        .bucket("pkgs")
        .send()
        .await
        .unwrap();
    let raw: Vec<_> = raw.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(raw, ["mirror/http---x-a.deb", "mirror/index/b.json"]);
    let out = dir.path().join("out.deb");
    let got = store.get_to_file("http---x-a.deb", &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(got.sha256.as_deref(), Some(sha.as_str()));
    assert!(store.get_to_file("nope", &out).await.is_err());
    assert_eq!(
        std::fs::read(&out).unwrap(),
        bytes,
        "failed get must not touch the destination"
    );

    store.delete("http---x-a.deb").await.unwrap();
    assert!(!store.exists("http---x-a.deb").await.unwrap());
    // Refused before upload: wrong expected sha256.
    let err = store
        .put_file("c", &src, Some(&"0".repeat(64)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mismatch"), "{err}");
    assert!(store.head("c").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_roundtrip() {
    let moto = Moto::start();
    let store = s3_store(
        &moto.endpoint(),
        "big",
        "",
        Some(small_multipart(&moto.endpoint())),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bundle.tgz");
    let bytes = data(12 << 20, 7); // 3 parts: 5 + 5 + 2 MiB
    std::fs::write(&src, &bytes).unwrap();
    let info = store.put_file("bundle-x.tgz", &src, None).await.unwrap();
    let head = store.head("bundle-x.tgz").await.unwrap().unwrap();
    assert_eq!(head.size, 12 << 20);
    assert_eq!(head.sha256, info.sha256);
    let out = dir.path().join("back");
    store.get_to_file("bundle-x.tgz", &out).await.unwrap();
    assert!(std::fs::read(&out).unwrap() == bytes);
    let uploads = store
        .client()
        .list_multipart_uploads()
        .bucket("big")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
}

/// `create_file` is write-once on S3 (`If-None-Match: *`), single PUT and multipart alike: of
/// several creators one wins, the others see the winner's sha256 and tag, and the object is the
/// winner's bytes. The creators run one after another: S3 evaluates `If-None-Match` atomically,
/// moto checks and writes in two steps, so truly concurrent creators race inside moto itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_file_is_write_once_single_and_multipart() {
    use kernel_packer::store::{Created, Store};
    let moto = Moto::start();
    let store = std::sync::Arc::new(
        s3_store(
            &moto.endpoint(),
            "once",
            "p/",
            Some(small_multipart(&moto.endpoint())),
        )
        .await,
    );
    let dir = tempfile::tempdir().unwrap();
    for (key, size) in [("small.tgz", 1000usize), ("big.tgz", 11 << 20)] {
        let mut new = Vec::new();
        let mut existing = Vec::new();
        for n in 0..3u8 {
            let src = dir.path().join(format!("{key}-{n}"));
            std::fs::write(&src, data(size, n + 1)).unwrap();
            match store
                .create_file(key, &src, None, &format!("content{n}"))
                .await
                .unwrap()
            {
                Created::New(info) => new.push(info),
                Created::Existing { info, tag } => existing.push((info, tag)),
            }
        }
        assert_eq!(new.len(), 1, "{key}");
        let bytes = store.get_bytes(key).await.unwrap().unwrap();
        let sha = kernel_packer::names::sha256_hex(&bytes);
        assert_eq!(new[0].sha256.as_deref(), Some(sha.as_str()), "{key}");
        let winner = (0..3u8)
            .find(|n| data(size, *n + 1) == bytes)
            .expect("the object is one creator's bytes");
        for (info, tag) in existing {
            assert_eq!(info.sha256.as_deref(), Some(sha.as_str()), "{key}");
            assert_eq!(tag, Some(format!("content{winner}")), "{key}");
        }
        // A later create changes nothing either.
        let src = dir.path().join("late");
        std::fs::write(&src, b"late").unwrap();
        assert!(matches!(
            store.create_file(key, &src, None, "late").await.unwrap(),
            Created::Existing { .. }
        ));
        assert_eq!(store.get_bytes(key).await.unwrap().unwrap(), bytes);
    }
    let uploads = store
        .client()
        .list_multipart_uploads()
        .bucket("once")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "losing multipart uploads are aborted"
    );
}

/// The server "dies" mid-upload (the proxy cuts every connection after 1 MiB): the upload fails,
/// no object (single PUT) and no half-finished multipart upload is left, the previous version stays
/// intact; once the server is back, the same upload completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gone_mid_upload_leaves_no_partial_object() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port);
    let direct = s3_store(&moto.endpoint(), "atomic", "p/", None).await;
    let via_proxy = s3_store(
        &proxy.endpoint(),
        "atomic",
        "p/",
        Some(small_multipart(&proxy.endpoint())),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();

    // Single PUT (3 MiB < threshold), replacing an existing object.
    let old = data(1000, 3);
    direct.put_bytes("single.deb", old.clone()).await.unwrap();
    let single = dir.path().join("single");
    let single_bytes = data(3 << 20, 4);
    std::fs::write(&single, &single_bytes).unwrap();
    proxy.cut_after(Some(1 << 20));
    let err = via_proxy
        .put_file("single.deb", &single, None)
        .await
        .unwrap_err();
    assert!(
        proxy.cuts.load(Ordering::SeqCst) >= 1,
        "the proxy never cut: {err:#}"
    );
    assert_eq!(direct.get_bytes("single.deb").await.unwrap().unwrap(), old);

    // Multipart (12 MiB): the first part is cut; the abort (small) gets through.
    let big = dir.path().join("big");
    let big_bytes = data(12 << 20, 5);
    std::fs::write(&big, &big_bytes).unwrap();
    via_proxy
        .put_file("bundle-big.tgz", &big, None)
        .await
        .unwrap_err();
    assert!(direct.head("bundle-big.tgz").await.unwrap().is_none());
    let uploads = direct
        .client()
        .list_multipart_uploads()
        .bucket("atomic")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "failed multipart upload was not aborted"
    );

    // Server back: reruns complete.
    proxy.cut_after(None);
    via_proxy
        .put_file("single.deb", &single, None)
        .await
        .unwrap();
    via_proxy
        .put_file("bundle-big.tgz", &big, None)
        .await
        .unwrap();
    assert!(direct.get_bytes("single.deb").await.unwrap().unwrap() == single_bytes);
    let back = dir.path().join("back");
    direct.get_to_file("bundle-big.tgz", &back).await.unwrap();
    assert!(std::fs::read(&back).unwrap() == big_bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_parses_store_urls() {
    let moto = Moto::start();
    s3_store(&moto.endpoint(), "opened", "", None).await;
    let store = kernel_packer::store::open("s3://opened/a/b", &s3_options(&moto.endpoint()))
        .await
        .unwrap();
    assert_eq!(store.location(), "s3://opened/a/b/");
    store.put_bytes("k", b"v".to_vec()).await.unwrap();
    let direct = s3_store(&moto.endpoint(), "opened", "a/b/", None).await;
    assert_eq!(direct.get_bytes("k").await.unwrap().unwrap(), b"v");
    let dir = tempfile::tempdir().unwrap();
    let local = kernel_packer::store::open(dir.path().to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    local.put_bytes("k", b"v".to_vec()).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("k")).unwrap(), b"v");
}

/// The SHA-256 checksum goes to the server with every upload (single PUT and each part), so S3
/// verifies the content; checked on the wire, because moto does not verify or keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_send_sha256_checksums() {
    use base64::Engine;
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port);
    let store = s3_store(
        &proxy.endpoint(),
        "sums",
        "",
        Some(small_multipart(&proxy.endpoint())),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b));
    use sha2::Digest;
    let small = data(1000, 9);
    store.put_bytes("small", small.clone()).await.unwrap();
    let big = data(11 << 20, 8);
    let path = dir.path().join("big");
    std::fs::write(&path, &big).unwrap();
    store.put_file("big", &path, None).await.unwrap();
    // Connections are kept alive, so requests are searched in everything captured.
    let wire = proxy
        .captured
        .lock()
        .unwrap()
        .join("\n")
        .to_ascii_lowercase();
    let has = |v: &str| {
        wire.contains(&format!(
            "x-amz-checksum-sha256: {}",
            v.to_ascii_lowercase()
        ))
    };
    assert!(has(&b64(&small)), "single PUT without its checksum");
    assert!(
        has(&b64(&big[..5 << 20])),
        "first part without its checksum"
    );
    assert!(
        has(&b64(&big[10 << 20..])),
        "last part without its checksum"
    );
    assert!(wire.contains(&format!(
        "x-amz-meta-sha256: {}",
        kernel_packer::names::sha256_hex(&big)
    )));
}

/// A stored object whose content no longer matches its recorded sha256 is refused on download,
/// and the destination is neither created nor left with a temporary file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_object_is_refused_on_download() {
    let moto = Moto::start();
    let store = s3_store(&moto.endpoint(), "corrupt", "", None).await;
    store
        .client()
        .put_object()
        .bucket("corrupt")
        .key("pkg.deb")
        .metadata("sha256", "0".repeat(64))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"bit rot"))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("pkg.deb");
    let err = store.get_to_file("pkg.deb", &dest).await.unwrap_err();
    assert!(err.to_string().contains("sha256 mismatch"), "{err:#}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
