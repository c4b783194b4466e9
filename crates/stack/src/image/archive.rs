//! Moving images between hosts without a registry: `docker save` archives written from
//! `GET /images/get` (optionally gzip) and loaded through `POST /images/load`.

use std::path::Path;

use bollard::query_parameters::ImportImageOptionsBuilder;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::image_id;
use crate::engine::Engine;
use crate::error::StackError;

/// Writes `images` to `file` as a `docker save` archive (`GET /images/get?names=...`),
/// gzip-compressed when the file name ends in `.gz`. The file is written to a temporary name
/// and renamed, so a failed save never leaves a truncated archive under the final name.
///
/// # Errors
/// [`StackError::ImageMissing`] for an image not present, [`StackError::Write`],
/// [`StackError::Engine`]. Returns the archive size in bytes.
pub async fn save_images(
    engine: &Engine,
    images: &[String],
    file: &Path,
) -> Result<u64, StackError> {
    for image in images {
        if image_id(engine, image).await?.is_none() {
            return Err(StackError::ImageMissing {
                service: "-".into(),
                image: image.clone(),
            });
        }
    }
    let tmp = file.with_extension(format!("partial-{}", std::process::id()));
    let write_err = |source: std::io::Error| StackError::Write {
        path: tmp.clone(),
        source,
    };
    let out = tokio::fs::File::create(&tmp).await.map_err(write_err)?;
    let gzip = file.extension().map(|e| e == "gz").unwrap_or(false);
    let names: Vec<&str> = images.iter().map(String::as_str).collect();
    let mut stream = engine.docker().export_images(&names);
    let result: Result<(), StackError> = async {
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let mut out = out;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| engine.err("export images", e))?;
                std::io::Write::write_all(&mut enc, &chunk).map_err(write_err)?;
                let pending = std::mem::take(enc.get_mut());
                out.write_all(&pending).await.map_err(write_err)?;
            }
            let rest = enc.finish().map_err(write_err)?;
            out.write_all(&rest).await.map_err(write_err)?;
            out.sync_all().await.map_err(write_err)?;
        } else {
            let mut out = out;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| engine.err("export images", e))?;
                out.write_all(&chunk).await.map_err(write_err)?;
            }
            out.sync_all().await.map_err(write_err)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp, file)
        .await
        .map_err(|source| StackError::Write {
            path: file.to_path_buf(),
            source,
        })?;
    let size = tokio::fs::metadata(file)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    Ok(size)
}

/// Loads a `docker save` archive (plain or gzip; the engine detects it) through
/// `POST /images/load`. Returns the engine's messages (e.g. "Loaded image: mmkt/server:latest").
///
/// # Errors
/// [`StackError::Read`], [`StackError::Engine`] (for example a file that is not an image archive).
pub async fn load_images(engine: &Engine, file: &Path) -> Result<Vec<String>, StackError> {
    use tokio::io::AsyncReadExt;
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|source| StackError::Read {
            path: file.to_path_buf(),
            source,
        })?;
    let body = futures_util::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<bytes::Bytes, std::io::Error>(bytes::Bytes::from(buf)),
                    f,
                ))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut stream = engine.docker().import_image_stream(
        ImportImageOptionsBuilder::default().quiet(true).build(),
        body,
        None,
    );
    let mut messages = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine.err(format!("load {}", file.display()), e))?;
        if let Some(s) = info.stream {
            messages.extend(
                s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string),
            );
        }
    }
    Ok(messages)
}
