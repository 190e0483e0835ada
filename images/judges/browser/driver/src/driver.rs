//! Starting chromedriver and Chromium, and stopping them again.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::scenario::one_line;

/// How long chromedriver may take to answer `/status`.
pub const DRIVER_START: Duration = Duration::from_secs(15);
/// How long Chromium may take to start (the new-session command).
pub const SESSION_START: Duration = Duration::from_secs(45);
/// Lines of chromedriver's output kept for error messages.
const LOG_LINES: usize = 8;

/// Something that stops the run before any step: exit 3.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Paths and arguments for the browser, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

impl Setup {
    pub fn from_env() -> Self {
        let pick = |name: &str, default: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        Setup {
            chromedriver: pick("CHROMEDRIVER", "/usr/bin/chromedriver"),
            chromium: pick("CHROMIUM", "/usr/bin/chromium"),
        }
    }
}

/// The arguments chromedriver is started with.
///
/// No `--allowed-ips`/`--allowed-origins`: given either, chromedriver listens
/// on every interface (an empty `--allowed-ips=` even allows every remote
/// address); without them it binds 127.0.0.1 and ::1 only and accepts local
/// connections only. The secret `--url-base` keeps the student's service,
/// which shares the network namespace, from driving this chromedriver
/// (a new session could start any binary).
pub fn driver_args(port: u16, url_base: &str) -> Vec<String> {
    vec![
        format!("--port={port}"),
        format!("--url-base={url_base}"),
        "--log-level=WARNING".to_string(),
    ]
}

/// Chromium's command-line arguments.
pub fn chromium_args(user_data_dir: &Path) -> Vec<String> {
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--metrics-recording-only",
        "--window-size=1024,768",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(std::iter::once(format!(
        "--user-data-dir={}",
        user_data_dir.display()
    )))
    .collect()
}

/// The WebDriver capabilities for a session.
pub fn capabilities(chromium: &Path, user_data_dir: &Path, timeout_ms: u64) -> Capabilities {
    let caps = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "unhandledPromptBehavior": "dismiss",
        "timeouts": {"pageLoad": timeout_ms, "script": 10_000, "implicit": 0},
        "goog:loggingPrefs": {"browser": "SEVERE"},
        "goog:chromeOptions": {
            "binary": chromium.display().to_string(),
            "args": chromium_args(user_data_dir),
        },
    });
    match caps {
        Value::Object(map) => map,
        _ => Capabilities::new(),
    }
}

/// A random path segment for `--url-base`.
fn secret() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if read.is_err() {
        // Fall back on std's randomly keyed hasher.
        use std::hash::{BuildHasher, Hasher};
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            h.write_u32(std::process::id());
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh directory for Chromium's profile, under $HOME (or the temp dir).
fn fresh_profile_dir() -> Result<PathBuf, StartError> {
    let name = format!("profile-{}-{}", std::process::id(), &secret()[..12]);
    let mut errors = Vec::new();
    let mut bases = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        bases.push(PathBuf::from(home).join(".judge-browser"));
    }
    bases.push(std::env::temp_dir().join("judge-browser"));
    for base in bases {
        let dir = base.join(&name);
        match std::fs::create_dir_all(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
    Err(StartError(format!(
        "cannot create a profile directory for Chromium ({})",
        errors.join("; ")
    )))
}

/// The last lines chromedriver printed.
#[derive(Debug, Clone, Default)]
struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: String) {
        if let Ok(mut q) = self.0.lock() {
            if q.len() == LOG_LINES {
                q.pop_front();
            }
            q.push_back(crate::result::truncate(&one_line(&line), 300));
        }
    }

    fn text(&self) -> String {
        match self.0.lock() {
            Ok(q) if !q.is_empty() => q.iter().cloned().collect::<Vec<_>>().join(" | "),
            _ => "(nothing)".to_string(),
        }
    }

    fn follow(&self, stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let tail = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tail.push(line);
            }
        });
    }
}

/// A running chromedriver, and (once connected) its session.
pub struct Browser {
    child: Child,
    tail: Tail,
    profile: PathBuf,
    pub client: Option<Client>,
    pub version: String,
}

impl Browser {
    /// Start chromedriver, wait for it, and open a session (which starts Chromium).
    pub async fn start(setup: &Setup, port: u16, timeout_ms: u64) -> Result<Browser, StartError> {
        port_is_free(port)?;
        let profile = fresh_profile_dir()?;
        let base = format!("/{}", secret());
        let mut cmd = Command::new(&setup.chromedriver);
        cmd.args(driver_args(port, &base))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profile);
                return Err(StartError(format!(
                    "chromedriver could not be started ({}): {e}",
                    setup.chromedriver.display()
                )));
            }
        };
        let tail = Tail::default();
        if let Some(out) = child.stdout.take() {
            tail.follow(out);
        }
        if let Some(err) = child.stderr.take() {
            tail.follow(err);
        }
        let mut browser = Browser {
            child,
            tail,
            profile,
            client: None,
            version: String::new(),
        };
        if let Err(e) = browser.connect(setup, port, &base, timeout_ms).await {
            browser.stop().await;
            return Err(e);
        }
        Ok(browser)
    }

    async fn connect(
        &mut self,
        setup: &Setup,
        port: u16,
        base: &str,
        timeout_ms: u64,
    ) -> Result<(), StartError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.fail(&format!("chromedriver exited at start ({status})")));
            }
            if driver_ready(port, base).await {
                break;
            }
            if started.elapsed() > DRIVER_START {
                return Err(self.fail(&format!(
                    "chromedriver did not answer /status on 127.0.0.1:{port} within {} s",
                    DRIVER_START.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // It answered; make sure the answer came from our chromedriver and
        // not from something else holding the port.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(self.fail(&format!("chromedriver exited at start ({status})")));
        }
        let url = format!("http://127.0.0.1:{port}{base}/");
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities(&setup.chromium, &self.profile, timeout_ms));
        let client = match tokio::time::timeout(SESSION_START, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                return Err(self.fail(&format!(
                    "Chromium could not be started ({}) through chromedriver: {e}",
                    setup.chromium.display()
                )));
            }
            Err(_) => {
                return Err(self.fail(&format!(
                    "Chromium ({}) did not start within {} s",
                    setup.chromium.display(),
                    SESSION_START.as_secs()
                )));
            }
        };
        let caps = client.capabilities();
        let version = caps
            .and_then(|c| c.get("browserVersion"))
            .and_then(Value::as_str)
            .unwrap_or("unknown version");
        self.version = crate::result::truncate(&format!("Chromium {version}"), 100);
        self.client = Some(client);
        Ok(())
    }

    fn fail(&self, what: &str) -> StartError {
        StartError(one_line(&format!(
            "{what}; chromedriver's last output: {}",
            self.tail.text()
        )))
    }

    /// End the session (Chromium quits), then kill chromedriver's process group.
    pub async fn stop(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
        }
        if let Some(pid) = self.child.id()
            && let Ok(pid) = i32::try_from(pid)
        {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Refuse a port that something else already listens on: chromedriver would
/// fail to bind it and we might talk to whatever holds it.
fn port_is_free(port: u16) -> Result<(), StartError> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(e) => Err(StartError(format!(
            "chromedriver could not be started: port 127.0.0.1:{port} is not free ({e})"
        ))),
    }
}

/// Whether chromedriver answers `GET {base}/status` with `"ready": true`.
async fn driver_ready(port: u16, base: &str) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = format!(
            "GET {base}/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        // chromedriver keeps the connection open despite `Connection: close`:
        // read until the body parses as JSON.
        let mut response = Vec::new();
        let mut buf = [0u8; 4096];
        while response.len() < 64 * 1024 {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            response.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&response);
            if let Some(at) = text.find("\r\n\r\n")
                && let Ok(v) = serde_json::from_str::<Value>(text[at + 4..].trim())
            {
                return v.pointer("/value/ready").and_then(Value::as_bool);
            }
        }
        None
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_binds_loopback_only() {
        let args = driver_args(9515, "/abc");
        assert_eq!(args[0], "--port=9515");
        assert_eq!(args[1], "--url-base=/abc");
        assert!(!args.iter().any(|a| a.starts_with("--allowed-")));
    }

    #[test]
    fn capabilities_carry_binary_and_args() {
        let caps = capabilities(Path::new("/usr/bin/chromium"), Path::new("/p"), 20000);
        let opts = &caps["goog:chromeOptions"];
        assert_eq!(opts["binary"], "/usr/bin/chromium");
        let args: Vec<&str> = opts["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for want in [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--user-data-dir=/p",
            "--window-size=1024,768",
        ] {
            assert!(args.contains(&want), "{want} missing from {args:?}");
        }
        assert_eq!(caps["timeouts"]["pageLoad"], 20000);
    }

    #[test]
    fn secrets_differ() {
        let a = secret();
        assert_eq!(a.len(), 32);
        assert_ne!(a, secret());
    }

    #[test]
    fn tail_keeps_last_lines() {
        let t = Tail::default();
        assert_eq!(t.text(), "(nothing)");
        for i in 0..20 {
            t.push(format!("line {i}\r"));
        }
        assert_eq!(
            t.text(),
            "line 12  | line 13  | line 14  | line 15  | line 16  | line 17  | line 18  | line 19 "
        );
    }

    #[test]
    fn taken_port_is_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let e = port_is_free(port).unwrap_err();
        assert!(e.0.contains("not free"), "{e}");
    }
}
