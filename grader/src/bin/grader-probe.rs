//! The grader's probe: a tiny program that runs in a container joined to the
//! submission's network namespace, so the grader can reach a service that has no
//! network of its own. It uses the standard library only and trusts nothing it reads.
//!
//! grader-probe idle              stay alive (the probe container's main process)
//! grader-probe relay PORT        pipe stdin/stdout to 127.0.0.1:PORT
//! grader-probe listeners         print "ADDRESS PORT" of every listening TCP socket

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = || args.get(1).and_then(|p| p.parse::<u16>().ok());
    match (args.first().map(String::as_str), port()) {
        (Some("idle"), _) => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        (Some("relay"), Some(port)) => relay(port),
        (Some("listeners"), _) => listeners(),
        _ => {
            eprintln!("usage: grader-probe idle | relay PORT | listeners");
            ExitCode::from(2)
        }
    }
}

/// Copies stdin to the service and the service's answer to stdout, until
/// either side is done. Exit code 3: the service refused the connection.
fn relay(port: u16) -> ExitCode {
    let stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("connect 127.0.0.1:{port}: {e}");
            return ExitCode::from(3);
        }
    };
    let Ok(mut upstream) = stream.try_clone() else {
        return ExitCode::from(1);
    };
    let sender = std::thread::spawn(move || {
        match std::io::copy(&mut std::io::stdin().lock(), &mut upstream) {
            // The grader's client never half-closes: the end of stdin means it
            // has dropped the connection (an answer too slow, too long, or done
            // with). Close the service's connection too, so that an answer that
            // never ends does not hold it, and the service's graceful shutdown,
            // forever.
            Ok(_) => {
                let _ = upstream.shutdown(Shutdown::Both);
                std::process::exit(0);
            }
            // The service stopped reading (a 413 before the whole body, say):
            // its answer may still be on its way, so only this direction ends.
            Err(_) => {
                let _ = upstream.shutdown(Shutdown::Write);
            }
        }
    });
    let mut down = stream;
    let mut out = std::io::stdout().lock();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match down.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
        }
    }
    drop(sender); // stdin may never close; the process exits without waiting for it
    ExitCode::SUCCESS
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
