//! Files inside containers, through the Engine API's archive endpoints (works with a remote
//! engine too): download a directory as a tar stream, upload a tar into a directory.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};

use super::engine::Engine;
use super::error::StackError;

impl Engine {
    /// Streams `path` of a container (running or stopped) as an uncompressed tar archive whose
    /// entries are prefixed with the last component of `path` (e.g. `wallets/...` for
    /// `/wallets`). Nothing is requested until the stream is polled.
    ///
    /// Engine API: `GET /containers/{id}/archive?path=...`.
    ///
    /// # Errors
    /// Each item: [`StackError::Engine`] (no such container or path), [`StackError::Unreachable`].
    pub fn download_archive(
        &self,
        container: &str,
        path: &str,
    ) -> impl Stream<Item = Result<Bytes, StackError>> + Send + 'static {
        let options = DownloadFromContainerOptions {
            path: path.to_owned(),
        };
        let action = format!("read {container}:{path}");
        let engine = self.clone();
        self.docker()
            .download_from_container(container, Some(options))
            .map(move |item| item.map_err(|e| engine.err(action.clone(), e)))
    }

    /// Extracts a tar archive (`tar`, uncompressed, at most a few MiB: it is sent in one body)
    /// into directory `path` of a container, overwriting files of the same name and keeping
    /// the others. Owners and modes come from the tar headers.
    ///
    /// Engine API: `PUT /containers/{id}/archive?path=...`.
    ///
    /// # Errors
    /// [`StackError::Engine`] when the engine refuses (no such container or directory),
    /// [`StackError::Unreachable`].
    pub async fn upload_archive(
        &self,
        container: &str,
        path: &str,
        tar: Vec<u8>,
    ) -> Result<(), StackError> {
        let options = UploadToContainerOptions {
            path: path.to_owned(),
            ..Default::default()
        };
        self.docker()
            .upload_to_container(
                container,
                Some(options),
                bollard::body_full(Bytes::from(tar)),
            )
            .await
            .map_err(|e| self.err(format!("upload files into {container}:{path}"), e))
    }
}
