//! The submission's stdout and stderr, read by the grader itself with its own byte
//! cap: the first and last lines are kept for the report, the rest only counted,
//! so a flood costs the grader a counter, not memory.

use bollard::Docker;
use bollard::query_parameters::AttachContainerOptionsBuilder;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// Lines kept from the start and from the end of the output.
const KEEP: usize = 20;
/// Longest line kept, in characters.
const LINE: usize = 300;

/// What the grader keeps of the output.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    pub bytes: u64,
    pub head: Vec<String>,
    pub tail: VecDeque<String>,
    /// Lines dropped between head and tail.
    pub skipped: u64,
    partial: String,
}

impl Captured {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        // Past a few MiB nothing more of the text is useful: only count.
        if self.bytes > 8 << 20 {
            return;
        }
        self.partial.push_str(&String::from_utf8_lossy(chunk));
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial[..end].trim_end().chars().take(LINE).collect();
            self.partial.drain(..=end);
            self.line(line);
        }
        if self.partial.len() > 64 * 1024 {
            let line: String = self.partial.chars().take(LINE).collect();
            self.partial.clear();
            self.line(line);
        }
    }

    fn line(&mut self, line: String) {
        if self.head.len() < KEEP {
            self.head.push(line);
        } else {
            if self.tail.len() == KEEP {
                self.tail.pop_front();
                self.skipped += 1;
            }
            self.tail.push_back(line);
        }
    }

    /// The kept lines, with a marker where lines were left out.
    pub fn excerpt(&self) -> Vec<String> {
        let mut out = self.head.clone();
        if self.skipped > 0 || self.bytes > 8 << 20 {
            out.push("[…]".to_string());
        }
        out.extend(self.tail.iter().cloned());
        if !self.partial.is_empty() {
            out.push(self.partial.chars().take(LINE).collect());
        }
        out
    }
}

/// Reads a container's output from its start until it is removed.
pub struct Capture {
    state: Arc<Mutex<Captured>>,
    task: JoinHandle<()>,
}

impl Capture {
    /// Attaches to a created (not yet started) container. Stream only, as
    /// `docker run` attaches: with `logs` as well, the engine may replay what
    /// the stream then delivers again, and a line would show twice.
    pub async fn attach(docker: &Docker, id: &str) -> Result<Capture, bollard::errors::Error> {
        let opts = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let mut attached = docker.attach_container(id, Some(opts)).await?;
        let state = Arc::new(Mutex::new(Captured::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(frame)) = attached.output.next().await {
                if let Ok(mut s) = shared.lock() {
                    s.push(&frame.into_bytes());
                }
            }
        });
        Ok(Capture { state, task })
    }

    /// What was read so far; stops reading.
    pub fn finish(self) -> Captured {
        self.task.abort();
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_and_last_lines_and_counts_everything() {
        let mut c = Captured::default();
        for i in 0..100 {
            c.push(format!("line {i}\n").as_bytes());
        }
        c.push(b"no newline yet");
        let e = c.excerpt();
        assert_eq!(e.first().map(String::as_str), Some("line 0"));
        assert!(e.contains(&"[…]".to_string()));
        assert!(e.contains(&"line 99".to_string()));
        assert_eq!(e.last().map(String::as_str), Some("no newline yet"));
        assert_eq!(
            c.bytes,
            (0..100)
                .map(|i: u32| format!("line {i}\n").len() as u64)
                .sum::<u64>()
                + 14
        );
    }
}
