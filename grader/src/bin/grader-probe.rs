//! The grader's probe: a tiny program that runs in a container joined to the
//! submission's network namespace, so the grader can reach a service that has no
//! network of its own. It trusts nothing it reads.
//!
//! grader-probe mux PORT [FAKE_PORT...]
//!     the probe container's main process: serve yamux on stdin/stdout; each
//!     stream the grader opens becomes a connection to 127.0.0.1:PORT, and each
//!     connection accepted on 127.0.0.1:FAKE_PORT becomes a stream the probe
//!     opens, headed by that port (two bytes, big-endian), which the grader
//!     answers as the fake it declared there
//! grader-probe listeners
//!     print "ADDRESS PORT" of every listening TCP socket

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ports: Option<Vec<u16>> = args.iter().skip(1).map(|p| p.parse().ok()).collect();
    match (args.first().map(String::as_str), ports.as_deref()) {
        (Some("mux"), Some([port, fakes @ ..])) => mux(*port, fakes),
        (Some("listeners"), _) => listeners(),
        _ => {
            eprintln!("usage: grader-probe mux PORT [FAKE_PORT...] | listeners");
            ExitCode::from(2)
        }
    }
}

/// Serves the grader's yamux connection on stdin/stdout until it ends: each
/// inbound stream is one connection to the service; each connection to a
/// fake's port, one outbound stream.
fn mux(port: u16, fakes: &[u16]) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mux: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        // The fakes' ports are bound before anything else runs in the
        // namespace (the submission starts after the probe), so nothing of
        // the submission's can take them first.
        let mut listeners = Vec::new();
        for &fake in fakes {
            match tokio::net::TcpListener::bind(("127.0.0.1", fake)).await {
                Ok(l) => listeners.push((fake, l)),
                Err(e) => {
                    eprintln!("mux: cannot listen on 127.0.0.1:{fake}: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        let (dial, dialed) = tokio::sync::mpsc::channel(64);
        for (fake, listener) in listeners {
            let dial = dial.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    if dial.send((fake, sock)).await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(dial);
        let io = tokio::io::join(tokio::io::stdin(), tokio::io::stdout()).compat();
        let conn = yamux::Connection::new(io, yamux::Config::default(), yamux::Mode::Server);
        drive(conn, port, dialed).await;
        ExitCode::SUCCESS
    });
    // The thread reading stdin may be blocked in a read: do not wait for it.
    runtime.shutdown_background();
    code
}

type Conn = yamux::Connection<
    tokio_util::compat::Compat<tokio::io::Join<tokio::io::Stdin, tokio::io::Stdout>>,
>;

/// Moves the connection's frames: inbound streams go to the service, and a
/// stream is opened for each connection accepted on a fake's port.
async fn drive(
    mut conn: Conn,
    port: u16,
    mut dialed: tokio::sync::mpsc::Receiver<(u16, tokio::net::TcpStream)>,
) {
    use std::task::Poll;
    let mut waiting: Option<(u16, tokio::net::TcpStream)> = None;
    std::future::poll_fn(|cx| {
        loop {
            if waiting.is_none()
                && let Poll::Ready(Some(sock)) = dialed.poll_recv(cx)
            {
                waiting = Some(sock);
            }
            if let Some((fake, sock)) = waiting.take() {
                match conn.poll_new_outbound(cx) {
                    Poll::Ready(Ok(stream)) => {
                        tokio::spawn(to_fake(stream, fake, sock));
                        continue;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => waiting = Some((fake, sock)),
                }
            }
            return match conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(stream))) => {
                    tokio::spawn(connect(stream, port));
                    continue;
                }
                Poll::Ready(Some(Err(_)) | None) => Poll::Ready(()),
                Poll::Pending => Poll::Pending,
            };
        }
    })
    .await
}

/// Carries a connection the submission made to a fake's port over a stream
/// to the grader, which reads the port first to know which fake it is.
async fn to_fake(stream: yamux::Stream, fake: u16, sock: tokio::net::TcpStream) {
    let mut stream = stream.compat();
    if stream.write_all(&fake.to_be_bytes()).await.is_err() {
        return;
    }
    let mut sock = sock;
    let _ = tokio::io::copy_bidirectional(&mut sock, &mut stream).await;
}

/// Carries one stream to a new connection to the service. A refused
/// connection drops the stream, which the grader's client sees as closed.
async fn connect(stream: yamux::Stream, port: u16) {
    let Ok(service) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    let (mut from_service, mut to_service) = service.into_split();
    let (mut from_grader, mut to_grader) = tokio::io::split(stream.compat());
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from_grader.read(&mut buf).await {
                // The end of the stream means the client has gone (it never
                // half-closes): end the whole connection, so that an answer
                // that never ends does not hold it, and the service's graceful
                // shutdown, forever.
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if to_service.write_all(&buf[..n]).await.is_err() {
                        // The service stopped reading (a 413 before the whole
                        // body, say): its answer may still come.
                        let _ = to_service.shutdown().await;
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    };
    let down = async move {
        let _ = tokio::io::copy(&mut from_service, &mut to_grader).await;
        let _ = to_grader.shutdown().await;
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

/// Reads the kernel's socket tables of this network namespace and prints the
/// address and port of every listening socket, one a line.
fn listeners() -> ExitCode {
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(table) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // cols[1] is "ADDR:PORT" in hex, cols[3] the state; 0A is LISTEN.
            let (Some(local), Some("0A")) = (cols.get(1), cols.get(3).copied()) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if let Ok(port) = u16::from_str_radix(p, 16) {
                println!("{} {port}", decode(addr, v6));
            }
        }
    }
    ExitCode::SUCCESS
}

/// The kernel prints an address as 32-bit words in host byte order, so each word's
/// native bytes are the address's bytes in network order.
fn decode(hex: &str, v6: bool) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 8)
        .filter_map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .flat_map(u32::to_ne_bytes)
        .collect();
    if v6 && bytes.len() == 16 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&bytes);
        std::net::Ipv6Addr::from(a).to_string()
    } else if bytes.len() == 4 {
        std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()
    } else {
        hex.to_string()
    }
}
