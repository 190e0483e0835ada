//! A server under test: started with its output in a log file, polled until
//! `GET /health` answers, measured from `/proc`, and always stopped, with
//! every process it started, when it is dropped (an error, a panic unwinding).
//!
//! The children stay in xtask's process group, so a Ctrl-C at the terminal
//! reaches them as well.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cmd;

pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    stopped: bool,
}

/// A free port on 127.0.0.1 (the OS picks it; the tiny window before the
/// server binds it is harmless on a machine that runs one benchmark).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Starts `command` (which must listen on `port` on 127.0.0.1), its
    /// stdout and stderr going to `log`, then waits until it is ready.
    pub fn start(
        name: &'static str,
        mut command: Command,
        port: u16,
        log: &Path,
        ready_within: Duration,
    ) -> Result<Self> {
        let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let what = cmd::describe(&command);
        let child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!("`{what}`: not found")
            } else {
                anyhow!("could not start `{what}`: {e}")
            }
        })?;
        let mut server = Self {
            name,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            child,
            log: log.to_owned(),
            stopped: false,
        };
        server.wait_ready(ready_within)?;
        Ok(server)
    }

    fn wait_ready(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before answering GET /health: {}",
                    self.name,
                    self.log_tail()
                );
            }
            if matches!(http(self.addr, "GET", "/health", None), Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer GET /health within {} s: {}",
                    self.name,
                    within.as_secs(),
                    self.log_tail()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// The last line of the log, for errors.
    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let last = text.lines().rev().find(|l| !l.trim().is_empty());
        format!(
            "{} (log: {})",
            last.unwrap_or("(nothing logged)").trim(),
            self.log.display()
        )
    }

    /// Peak resident memory (VmHWM) of the server's processes, summed, and
    /// how many there are. A sum of peaks overstates a tree whose processes
    /// peak at different moments or share pages; for one process it is exact.
    pub fn peak_rss_kib(&mut self) -> Result<(u64, usize)> {
        // An exited process has no memory figures left to read.
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited during the runs ({status}): {}",
                self.name,
                self.log_tail()
            );
        }
        let pids = process_tree(self.child.id());
        let mut total = 0;
        for pid in &pids {
            let status = fs::read_to_string(format!("/proc/{pid}/status"))
                .with_context(|| format!("reading /proc/{pid}/status of {}", self.name))?;
            total += vm_hwm_kib(&status)
                .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status of {}", self.name))?;
        }
        Ok((total, pids.len()))
    }

    /// Stops the server; fails if it had died before (a crash under load).
    /// The log is removed after a clean run (the reference logs every
    /// request: hundreds of MB) and kept when anything went wrong.
    pub fn stop(mut self) -> Result<()> {
        let early = self.child.try_wait()?;
        self.terminate();
        match early {
            Some(status) => bail!("{} had exited ({status}): {}", self.name, self.log_tail()),
            None => {
                let _ = fs::remove_file(&self.log);
                Ok(())
            }
        }
    }

    /// SIGTERM to the whole tree, SIGKILL to what is left after 5 s.
    fn terminate(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pids = process_tree(self.child.id());
        signal("TERM", &pids);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            sleep(Duration::from_millis(20));
        }
        let left: Vec<u32> = pids.into_iter().filter(|pid| is_running(*pid)).collect();
        signal("KILL", &left);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// `kill -SIG pid...`, by id only; a process already gone is no error.
fn signal(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn is_running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat_fields(&stat).map(|(state, _)| state != "Z"))
        .unwrap_or(false)
}

/// (state, parent pid) from a `/proc/<pid>/stat` line. The command name may
/// hold spaces and ')', so the fields are read after the last ')'.
fn stat_fields(stat: &str) -> Option<(&str, u32)> {
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// `root` and all its descendants (uvicorn's workers, say), root first.
fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(stat) = fs::read_to_string(entry.path().join("stat"))
            && let Some((_, ppid)) = stat_fields(&stat)
        {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        tree.extend(children.get(&tree[i]).into_iter().flatten());
        i += 1;
    }
    tree
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One HTTP/1.1 request on a fresh connection; returns the status and body.
/// Enough for readiness and sanity checks, not for load (wrk does that).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<&str>,
) -> Result<(u16, String)> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(body) = json_body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP response: {response:.80}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_stat_and_status() {
        let stat = "4242 (a (tricky) name) S 17 4242 4242 0 -1";
        assert_eq!(stat_fields(stat), Some(("S", 17)));
        assert_eq!(stat_fields("garbage"), None);
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5172 kB\nVmRSS:\t 5000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(5172));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_tree_holds_this_process() {
        let me = std::process::id();
        assert_eq!(process_tree(me).first(), Some(&me));
        assert!(is_running(me));
    }
}
