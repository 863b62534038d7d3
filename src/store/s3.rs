//! S3 (and S3-compatible) store: `s3://bucket/prefix`.
//!
//! Objects up to [`S3Options::multipart_threshold`] go up in one `PutObject`; larger ones as a
//! multipart upload that is completed only when every part is in, and aborted on any failure, so no
//! partial object is ever visible. Every upload sends `x-amz-checksum-sha256` (S3 verifies it) and
//! records the hex sha256 as user metadata `sha256`, which `head`/`get` report and check.

use std::path::Path;

use anyhow::Context;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{check_sha256, sha256_file, validate_key, validate_tag, Created, ObjectInfo, Store};

/// Default size above which uploads are multipart.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 64 << 20;
/// Smallest part S3 accepts (except the last one).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Most parts S3 accepts in one upload.
const MAX_PARTS: u64 = 10_000;
/// Metadata key holding the hex sha256.
const SHA256_META: &str = "sha256";
/// User metadata key holding the tag of objects made by `create_file`.
const TAG_META: &str = "tag";

/// Whether a conditional write found the key taken: `PreconditionFailed` (412, an object exists) or
/// `ConditionalRequestConflict` (409, a concurrent conditional write to the key is in flight).
fn is_taken<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("PreconditionFailed") | Some("ConditionalRequestConflict")
    )
}

/// Outcome of one upload attempt.
enum Put {
    Done,
    /// `If-None-Match: *` was sent and the key was taken.
    Taken,
}

/// Connection settings. Credentials and region come from the standard AWS chain (environment,
/// profile, web identity, container/instance metadata) unless set here.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`); implies path-style addressing.
    pub endpoint: Option<String>,
    /// Region when the chain has none (default `us-east-1`).
    pub region: Option<String>,
    /// Use path-style URLs (`endpoint/bucket/key`) even without an endpoint override.
    pub force_path_style: bool,
    /// Static credentials (access key id, secret), overriding the chain; meant for tests.
    pub static_credentials: Option<(String, String)>,
    /// Objects larger than this are uploaded in parts.
    pub multipart_threshold: u64,
    /// Part size for multipart uploads (raised automatically to stay within 10,000 parts).
    pub part_size: u64,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            region: None,
            force_path_style: false,
            static_credentials: None,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: 16 << 20,
        }
    }
}

impl S3Options {
    /// Defaults plus `KERNEL_PACKER_S3_ENDPOINT` (endpoint override) and
    /// `KERNEL_PACKER_S3_PATH_STYLE=1` from the environment. (`AWS_ENDPOINT_URL_S3` and
    /// `AWS_ENDPOINT_URL` are honoured by the AWS chain itself.)
    pub fn from_env() -> Self {
        let endpoint = std::env::var("KERNEL_PACKER_S3_ENDPOINT")
            .ok()
            .filter(|s| !s.is_empty());
        let force_path_style = matches!(
            std::env::var("KERNEL_PACKER_S3_PATH_STYLE").as_deref(),
            Ok("1") | Ok("true")
        ) || std::env::var("AWS_ENDPOINT_URL_S3").is_ok()
            || std::env::var("AWS_ENDPOINT_URL").is_ok();
        S3Options {
            endpoint,
            force_path_style,
            ..S3Options::default()
        }
    }
}

/// A store in an S3 bucket under a key prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    threshold: u64,
    part_size: u64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl S3Store {
    /// Builds a client for `bucket`/`prefix` (prefix empty or ending in `/`). Does no I/O.
    pub async fn connect(bucket: String, prefix: String, opts: &S3Options) -> anyhow::Result<Self> {
        use aws_config::meta::region::RegionProviderChain;
        let region = RegionProviderChain::first_try(
            opts.region.clone().map(aws_sdk_s3::config::Region::new),
        )
        .or_default_provider()
        .or_else("us-east-1");
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(region)
            .load()
            .await;
        // Downloads are verified against the full-object sha256 we record (metadata `sha256`),
        // which also covers multipart objects; the SDK's own check of per-part/composite response
        // checksums is left to requests that ask for it.
        let mut b = aws_sdk_s3::config::Builder::from(&shared).response_checksum_validation(
            aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
        );
        if let Some(ep) = &opts.endpoint {
            b = b.endpoint_url(ep.clone()).force_path_style(true);
        } else if opts.force_path_style {
            b = b.force_path_style(true);
        }
        if let Some((id, secret)) = &opts.static_credentials {
            b = b.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "kernel-packer-static",
            ));
        }
        Ok(S3Store {
            client: Client::from_conf(b.build()),
            bucket,
            prefix,
            threshold: opts.multipart_threshold,
            part_size: opts.part_size.max(MIN_PART_SIZE),
        })
    }

    /// The underlying client (for tests and administration).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn full_key(&self, key: &str) -> anyhow::Result<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn what(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    async fn put_single(
        &self,
        key: &str,
        body: ByteStream,
        sha: &str,
        sha_raw: &[u8],
        create_tag: Option<&str>,
    ) -> anyhow::Result<Put> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .body(body)
            .checksum_sha256(b64(sha_raw))
            .metadata(SHA256_META, sha);
        if let Some(tag) = create_tag {
            req = req.metadata(TAG_META, tag).if_none_match("*");
        }
        match req.send().await {
            Ok(_) => Ok(Put::Done),
            Err(e) if create_tag.is_some() && e.as_service_error().is_some_and(is_taken) => {
                Ok(Put::Taken)
            }
            Err(e) => anyhow::bail!("upload {}: {}", self.what(key), DisplayErrorContext(&e)),
        }
    }

    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        sha: &str,
        create_tag: Option<&str>,
    ) -> anyhow::Result<Put> {
        let full = self.full_key(key)?;
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .metadata(SHA256_META, sha);
        if let Some(tag) = create_tag {
            req = req.metadata(TAG_META, tag);
        }
        let created = req.send().await.map_err(|e| {
            anyhow::anyhow!(
                "start upload of {}: {}",
                self.what(key),
                DisplayErrorContext(&e)
            )
        })?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| anyhow::anyhow!("start upload of {}: no upload id", self.what(key)))?
            .to_string();
        let result = self
            .upload_parts(key, &full, &upload_id, path, size, create_tag.is_some())
            .await;
        if !matches!(result, Ok(Put::Done)) {
            // Best effort: the object never became visible either way.
            if let Err(abort) = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&full)
                .upload_id(&upload_id)
                .send()
                .await
            {
                tracing::warn!(key = %self.what(key), error = %DisplayErrorContext(&abort), "abort of failed multipart upload failed");
            }
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        full: &str,
        upload_id: &str,
        path: &Path,
        size: u64,
        if_absent: bool,
    ) -> anyhow::Result<Put> {
        let part_size = self.part_size.max(size.div_ceil(MAX_PARTS));
        let mut file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("open {}", path.display()))?;
        let mut parts = Vec::new();
        let mut number = 1i32;
        let mut sent = 0u64;
        while sent < size {
            let len = part_size.min(size - sent) as usize;
            let mut buf = vec![0u8; len];
            file.read_exact(&mut buf)
                .await
                .with_context(|| format!("read {}", path.display()))?;
            let part_sha = b64(&Sha256::digest(&buf));
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(upload_id)
                .part_number(number)
                .checksum_sha256(&part_sha)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "upload part {number} of {}: {}",
                        self.what(key),
                        DisplayErrorContext(&e)
                    )
                })?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .checksum_sha256(part_sha)
                    .build(),
            );
            sent += len as u64;
            number += 1;
        }
        let mut req = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if if_absent {
            req = req.if_none_match("*");
        }
        match req.send().await {
            Ok(_) => Ok(Put::Done),
            Err(e) if if_absent && e.as_service_error().is_some_and(is_taken) => Ok(Put::Taken),
            Err(e) => anyhow::bail!(
                "complete upload of {}: {}",
                self.what(key),
                DisplayErrorContext(&e)
            ),
        }
    }

    /// Uploads `path` as `key` (conditionally when `create_tag` is given).
    async fn upload_file(
        &self,
        key: &str,
        path: &Path,
        sha: &str,
        size: u64,
        create_tag: Option<&str>,
    ) -> anyhow::Result<Put> {
        if size <= self.threshold {
            let raw = hex::decode(sha)?;
            let body = ByteStream::from_path(path)
                .await
                .with_context(|| format!("open {}", path.display()))?;
            self.put_single(key, body, sha, &raw, create_tag).await
        } else {
            self.put_multipart(key, path, size, sha, create_tag).await
        }
    }

    /// Head with the recorded tag.
    async fn head_tagged(&self, key: &str) -> anyhow::Result<Option<(ObjectInfo, Option<String>)>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .send()
            .await
        {
            Ok(out) => {
                let meta = out.metadata();
                Ok(Some((
                    ObjectInfo {
                        key: key.to_string(),
                        size: out.content_length().unwrap_or(0).max(0) as u64,
                        sha256: meta.and_then(|m| m.get(SHA256_META)).cloned(),
                    },
                    meta.and_then(|m| m.get(TAG_META)).cloned(),
                )))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => anyhow::bail!("head {}: {}", self.what(key), DisplayErrorContext(&e)),
        }
    }
}

#[async_trait::async_trait]
impl Store for S3Store {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    async fn put_file(
        &self,
        key: &str,
        path: &Path,
        sha256: Option<&str>,
    ) -> anyhow::Result<ObjectInfo> {
        validate_key(key)?;
        let (sha, size) = sha256_file(path).await?;
        check_sha256(&path.display().to_string(), sha256, &sha)?;
        self.upload_file(key, path, &sha, size, None).await?;
        Ok(ObjectInfo::hashed(key, size, sha))
    }

    async fn create_file(
        &self,
        key: &str,
        path: &Path,
        sha256: Option<&str>,
        tag: &str,
    ) -> anyhow::Result<Created> {
        validate_key(key)?;
        validate_tag(tag)?;
        let (sha, size) = sha256_file(path).await?;
        check_sha256(&path.display().to_string(), sha256, &sha)?;
        // A 409 means another conditional write is in flight: wait for its object, bounded.
        for attempt in 0..8u32 {
            if let Put::Done = self.upload_file(key, path, &sha, size, Some(tag)).await? {
                return Ok(Created::New(ObjectInfo::hashed(key, size, sha)));
            }
            if let Some((info, tag)) = self.head_tagged(key).await? {
                if info.sha256.is_some() {
                    return Ok(Created::Existing { info, tag });
                }
                // Not made by this crate: hash it once to report its real content.
                let tmp = tempfile::Builder::new()
                    .prefix(".kernel-packer-head-")
                    .tempfile()?;
                let info = self.get_to_file(key, tmp.path()).await?;
                return Ok(Created::Existing { info, tag });
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt.min(4))).await;
        }
        anyhow::bail!(
            "create {}: the key stayed taken by an unfinished concurrent write",
            self.what(key)
        )
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<ObjectInfo> {
        let raw = Sha256::digest(&bytes).to_vec();
        let sha = hex::encode(&raw);
        let size = bytes.len() as u64;
        self.put_single(key, ByteStream::from(bytes), &sha, &raw, None)
            .await?;
        Ok(ObjectInfo::hashed(key, size, sha))
    }

    async fn get_to_file(&self, key: &str, dest: &Path) -> anyhow::Result<ObjectInfo> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("download {}: {}", self.what(key), DisplayErrorContext(&e))
            })?;
        let recorded = out.metadata().and_then(|m| m.get(SHA256_META)).cloned();
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .with_context(|| format!("create temporary file in {}", dir.display()))?;
        let (std_file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        let mut body = out.body;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| anyhow::anyhow!("download {}: {e}", self.what(key)))?
        {
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .with_context(|| format!("write {}", tmp_path.display()))?;
        }
        file.flush().await?;
        drop(file);
        let sha = hex::encode(hasher.finalize());
        check_sha256(&self.what(key), recorded.as_deref(), &sha)?;
        tmp_path
            .persist(dest)
            .with_context(|| format!("rename into {}", dest.display()))?;
        Ok(ObjectInfo::hashed(key, size, sha))
    }

    async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => anyhow::bail!("download {}: {}", self.what(key), DisplayErrorContext(&e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("download {}: {e}", self.what(key)))?
            .into_bytes()
            .to_vec();
        Ok(Some(bytes))
    }

    async fn head(&self, key: &str) -> anyhow::Result<Option<ObjectInfo>> {
        Ok(self.head_tagged(key).await?.map(|(info, _)| info))
    }

    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<ObjectInfo>> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{prefix}", self.prefix))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                anyhow::anyhow!(
                    "list {}{prefix}: {}",
                    self.location(),
                    DisplayErrorContext(&e)
                )
            })?;
            for obj in page.contents() {
                let Some(key) = obj.key().and_then(|k| k.strip_prefix(&self.prefix)) else {
                    continue;
                };
                out.push(ObjectInfo {
                    key: key.to_string(),
                    size: obj.size().unwrap_or(0).max(0) as u64,
                    sha256: None,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full_key(key)?)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("delete {}: {}", self.what(key), DisplayErrorContext(&e))
            })?;
        Ok(())
    }
}
