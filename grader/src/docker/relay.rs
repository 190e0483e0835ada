//! The relay: the only way the grader's HTTP client reaches anything.
//!
//! The probe's main process, `grader-probe mux PORT`, carries a yamux
//! connection on its stdin and stdout (see [`super::probe`]). The relay
//! listens on a Unix socket in a private folder (mode 0700) and carries each
//! connection accepted there as one yamux stream, which the probe connects to
//! the service's port inside the submission's network namespace.
//!
//! [`Relay::client`] is an HTTP client whose every connection goes to that
//! socket, whatever host a URL names, and which follows no redirect: a
//! submission that answers `302 Location: http://169.254.169.254/` gets its
//! 302 judged, and the grader never opens a connection anywhere but into the
//! submission. A Unix socket, unlike a port on 127.0.0.1, is also out of reach
//! of the machine's other users.
//!
//! The other way, a stream the probe opens carries a connection the
//! submission made to one of the lab's fakes: it starts with the fake's port
//! (two bytes, big-endian), and [`crate::fakes::Fakes`] answers the rest.

use crate::fakes::Fakes;
use bollard::Docker;
use bollard::container::AttachContainerResults;
use bollard::query_parameters::AttachContainerOptionsBuilder;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::task::JoinHandle;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};
use tokio_util::io::StreamReader;

/// A Unix socket whose connections are carried into the submission's network
/// namespace by the probe. Dropping it stops accepting, ends every connection
/// and the probe's `mux`, and removes the socket's folder.
pub struct Relay {
    socket: PathBuf,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Attaches to the probe container's mux and listens on a Unix socket in a
    /// fresh private folder; each connection accepted there becomes one yamux
    /// stream, which the probe connects to the service's port inside the
    /// submission's namespace. One mux for the whole grade, instead of a
    /// `docker exec` a connection, saves each check the tens of milliseconds
    /// that Docker takes to start an exec.
    pub async fn start(
        docker: &Docker,
        probe_id: &str,
        fakes: Option<Arc<Fakes>>,
    ) -> std::io::Result<Relay> {
        // tempfile makes the folder with mode 0700: only this user can connect.
        let dir = tempfile::Builder::new().prefix("grader-relay-").tempdir()?;
        let socket = dir.path().join("relay.sock");
        let listener = UnixListener::bind(&socket)?;
        let io = attach_mux(docker, probe_id)
            .await
            .map_err(std::io::Error::other)?;
        let (open, opened) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            let accept = async {
                while let Ok((sock, _)) = listener.accept().await {
                    let (reply, stream) = tokio::sync::oneshot::channel();
                    if open.send(reply).await.is_err() {
                        break;
                    }
                    conns.spawn(async move {
                        match stream.await {
                            Ok(Ok(stream)) => carry(sock, stream).await,
                            Ok(Err(e)) => tracing::debug!("relay stream not opened: {e}"),
                            Err(_) => {}
                        }
                    });
                }
            };
            // The connection to the probe ends when its mux does (the probe
            // container stopped); accepted sockets then close unanswered.
            tokio::select! {
                () = accept => {}
                () = drive(io, opened, fakes) => tracing::debug!("the probe's mux ended"),
            }
        });
        Ok(Relay {
            socket,
            task,
            _dir: dir,
        })
    }

    /// The socket, for a raw connection into the submission (the SIGTERM
    /// check holds a request in flight with one).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// An HTTP client that can reach the submission and nothing else: every
    /// connection goes through the relay's socket (no DNS, no proxy, whatever
    /// the URL's host), and redirects are answers, never followed.
    pub fn client(&self) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .unix_socket(self.socket.as_path())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // A fresh connection for every request: a service that closes a
            // connection after an error answer (a 413, say) must not fail the
            // next check with it.
            .pool_max_idle_per_host(0)
            .build()
    }
}

/// A request for a new stream, answered once the probe's side is told.
type Open = tokio::sync::oneshot::Sender<Result<yamux::Stream, yamux::ConnectionError>>;

/// The mux's stdout and stdin as one byte stream for yamux.
type MuxIo = Compat<tokio::io::Join<Box<dyn AsyncRead + Send + Unpin>, MuxInput>>;
type MuxInput = std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// Attaches to the probe's main process, `grader-probe mux PORT`: its stdin
/// and stdout carry the yamux connection.
async fn attach_mux(docker: &Docker, probe_id: &str) -> Result<MuxIo, bollard::errors::Error> {
    let opts = AttachContainerOptionsBuilder::default()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let AttachContainerResults { output, input } =
        docker.attach_container(probe_id, Some(opts)).await?;
    // Only stdout carries yamux frames; stderr (a probe complaint) is dropped.
    let frames = output.filter_map(|frame| async move {
        match frame {
            Ok(bollard::container::LogOutput::StdOut { message }) => Some(Ok(message)),
            Ok(_) => None,
            Err(e) => Some(Err(std::io::Error::other(e))),
        }
    });
    let reader: Box<dyn AsyncRead + Send + Unpin> = Box::new(StreamReader::new(Box::pin(frames)));
    Ok(tokio::io::join(reader, input).compat())
}

/// Runs the yamux connection: opens a stream for each request from the
/// accept loop, hands each stream the probe opens to the fakes, and keeps the
/// frames moving. Ends when the mux does, and the fakes' connections with it.
async fn drive(
    io: MuxIo,
    mut opened: tokio::sync::mpsc::Receiver<Open>,
    fakes: Option<Arc<Fakes>>,
) {
    let mut conn = yamux::Connection::new(io, yamux::Config::default(), yamux::Mode::Client);
    let mut served = tokio::task::JoinSet::new();
    let mut waiting: Option<Open> = None;
    std::future::poll_fn(|cx| {
        loop {
            if waiting.is_none()
                && let Poll::Ready(Some(reply)) = opened.poll_recv(cx)
            {
                waiting = Some(reply);
            }
            if let Some(reply) = waiting.take() {
                match conn.poll_new_outbound(cx) {
                    Poll::Ready(result) => {
                        let failed = result.is_err();
                        let _ = reply.send(result);
                        if failed {
                            return Poll::Ready(());
                        }
                        continue;
                    }
                    Poll::Pending => waiting = Some(reply),
                }
            }
            // Polling for inbound streams is what moves every frame. One the
            // probe opens is a connection to a fake; with no fakes, it is dropped.
            return match conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(stream))) => {
                    if let Some(fakes) = &fakes {
                        served.spawn(to_fake(fakes.clone(), stream));
                    }
                    // Finished connections are let go of as they end.
                    while let Poll::Ready(Some(_)) = served.poll_join_next(cx) {}
                    continue;
                }
                Poll::Ready(Some(Err(_)) | None) => Poll::Ready(()),
                Poll::Pending => Poll::Pending,
            };
        }
    })
    .await
}

/// Reads the fake's port that heads a stream the probe opened, then lets
/// that fake answer the connection.
async fn to_fake(fakes: Arc<Fakes>, stream: yamux::Stream) {
    let mut stream = stream.compat();
    let mut port = [0u8; 2];
    match tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut port)).await {
        Ok(Ok(_)) => fakes.serve(u16::from_be_bytes(port), stream).await,
        _ => tracing::debug!("a stream from the probe did not name a fake's port"),
    }
}

/// Carries one client connection over one stream of the probe's mux.
async fn carry(sock: tokio::net::UnixStream, stream: yamux::Stream) {
    let (mut rd, mut wr) = sock.into_split();
    let (mut from_probe, mut to_probe) = tokio::io::split(stream.compat());
    // Ends true when the client has gone, false when the probe stopped taking
    // the request (the service closed early, say: its answer may still come).
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_probe.write_all(&buf[..n]).await.is_err() {
                        return false;
                    }
                    let _ = to_probe.flush().await;
                }
            }
        }
        // The probe reads the end of the stream as "the client has gone".
        let _ = to_probe.shutdown().await;
        true
    };
    let down = async move {
        let _ = tokio::io::copy(&mut from_probe, &mut wr).await;
        let _ = wr.shutdown().await;
    };
    // When the service's answer ends the request is finished; when the client
    // has gone (reqwest never half-closes) nobody wants the rest of the answer.
    // Either way dropping the stream ends the probe's connection to the service.
    tokio::select! {
        () = down => {}
        () = async {
            if !up.await {
                std::future::pending::<()>().await;
            }
        } => {}
    }
}
