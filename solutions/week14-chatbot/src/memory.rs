//! Conversation memory: the turns of each session, kept in the process.
//!
//! A language model is stateless, so the service sends a session's earlier
//! turns again with every new message. Memory is bounded twice: the last
//! [`MAX_TURNS`] turns of a session (older ones are dropped, and the prompt
//! stays bounded too), and [`MAX_SESSIONS`] sessions (the least recently
//! used is dropped), so that no client can grow the process without limit.
//! It is lost on restart and not shared between replicas: see the README.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// Turns kept per session, and so sent to the model at most.
pub const MAX_TURNS: usize = 10;
/// Sessions kept at once.
pub const MAX_SESSIONS: usize = 1000;

/// One exchange: the user's message and the assistant's whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    pub user: String,
    pub assistant: String,
}

// lab:starter
// #[allow(dead_code)] // TODO(week 14): remove once recall and record use every field
// lab:end
#[derive(Debug, Default)]
struct Session {
    turns: VecDeque<Turn>,
    /// Turns completed in this session, including those dropped since.
    completed: u64,
    /// The store's clock when the session was last used: the LRU order.
    last_used: u64,
}

/// Every session's turns, by session id.
#[derive(Debug)]
pub struct SessionStore {
    sessions: HashMap<String, Session>,
    /// Counts uses; a logical clock never goes backwards, unlike the wall's.
    clock: u64,
    max_turns: usize,
    max_sessions: usize,
}

impl Default for SessionStore {
    fn default() -> Self {
        Self::new(MAX_TURNS, MAX_SESSIONS)
    }
}

impl SessionStore {
    /// A store keeping `max_turns` turns per session, `max_sessions`
    /// sessions (each at least 1).
    pub fn new(max_turns: usize, max_sessions: usize) -> Self {
        SessionStore {
            sessions: HashMap::new(),
            clock: 0,
            max_turns: max_turns.max(1),
            max_sessions: max_sessions.max(1),
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The session's turns, oldest first, to send with a new message (empty
    /// for a session not seen yet). Using a session makes it the most
    /// recently used.
    pub fn recall(&mut self, session_id: &str) -> Vec<Turn> {
        // lab:solution
        let now = self.tick();
        match self.sessions.get_mut(session_id) {
            Some(session) => {
                session.last_used = now;
                session.turns.iter().cloned().collect()
            }
            None => Vec::new(),
        }
        // lab:starter
        // // TODO(week 14): the session's turns, oldest first (none for an
        // // unknown session), and mark it used `now`.
        // let now = self.tick();
        // let _ = (session_id, now);
        // todo!("week 14: recall a session's turns")
        // lab:end
    }

    /// Stores a completed turn; returns how many turns the session has
    /// completed, this one included. Drops the session's oldest turn beyond
    /// the limit, and the least recently used session when a new one would
    /// exceed the limit.
    pub fn record(&mut self, session_id: &str, turn: Turn) -> u64 {
        // lab:solution
        let now = self.tick();
        if !self.sessions.contains_key(session_id) && self.sessions.len() >= self.max_sessions {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, session)| session.last_used)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                self.sessions.remove(&oldest);
            }
        }
        let session = self.sessions.entry(session_id.to_owned()).or_default();
        session.turns.push_back(turn);
        while session.turns.len() > self.max_turns {
            session.turns.pop_front();
        }
        session.completed += 1;
        session.last_used = now;
        session.completed
        // lab:starter
        // // TODO(week 14): append the turn to the session (created if new),
        // // keep only its last `self.max_turns` turns, count it in
        // // `completed` and mark the session used `now`. A new session when
        // // `self.max_sessions` are kept first drops the one with the
        // // smallest `last_used`. Return the session's `completed`.
        // let now = self.tick();
        // let _ = (session_id, turn, now, self.max_turns, self.max_sessions);
        // todo!("week 14: record a completed turn")
        // lab:end
    }

    /// The session's turns, oldest first, or `None` for an unknown session.
    /// Looking does not count as using.
    pub fn get(&self, session_id: &str) -> Option<Vec<Turn>> {
        self.sessions
            .get(session_id)
            .map(|session| session.turns.iter().cloned().collect())
    }

    /// Sessions kept.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(n: usize) -> Turn {
        Turn {
            user: format!("question {n}"),
            assistant: format!("answer {n}"),
        }
    }

    // lab:starter
    // #[ignore = "TODO(week 14): passes once recall is written"]
    // lab:end
    #[test]
    fn an_unknown_session_has_nothing() {
        let mut store = SessionStore::default();
        assert_eq!(store.recall("nobody"), []);
        assert_eq!(store.get("nobody"), None);
        assert!(store.is_empty(), "recalling creates no session");
    }

    // lab:starter
    // #[ignore = "TODO(week 14): passes once recall and record are written"]
    // lab:end
    #[test]
    fn turns_come_back_in_order_and_only_to_their_session() {
        let mut store = SessionStore::default();
        assert_eq!(store.record("a", turn(1)), 1);
        assert_eq!(store.record("b", turn(9)), 1);
        assert_eq!(store.record("a", turn(2)), 2);
        assert_eq!(store.recall("a"), [turn(1), turn(2)]);
        assert_eq!(store.get("b"), Some(vec![turn(9)]));
        assert_eq!(store.len(), 2);
    }

    // lab:starter
    // #[ignore = "TODO(week 14): passes once recall and record are written"]
    // lab:end
    #[test]
    fn a_session_keeps_its_last_ten_turns() {
        let mut store = SessionStore::default();
        for n in 1..=12 {
            assert_eq!(store.record("a", turn(n)), n as u64);
        }
        let kept = store.recall("a");
        assert_eq!(kept.len(), MAX_TURNS);
        assert_eq!(kept.first(), Some(&turn(3)));
        assert_eq!(kept.last(), Some(&turn(12)));
    }

    // lab:starter
    // #[ignore = "TODO(week 14): passes once recall and record are written"]
    // lab:end
    #[test]
    fn the_least_recently_used_session_goes_first() {
        let mut store = SessionStore::default();
        for n in 0..MAX_SESSIONS {
            store.record(&format!("s{n}"), turn(n));
        }
        assert_eq!(store.len(), MAX_SESSIONS);
        // s0 is used again: s1 is now the least recently used.
        assert_eq!(store.recall("s0").len(), 1);
        // Looking is not using: s1 stays the oldest.
        assert!(store.get("s1").is_some());
        store.record("new", turn(0));
        assert_eq!(store.len(), MAX_SESSIONS);
        assert!(store.get("s1").is_none(), "s1 was dropped");
        assert!(store.get("s0").is_some() && store.get("s2").is_some());
        // A known session never makes room.
        store.record("s2", turn(1));
        assert_eq!(store.len(), MAX_SESSIONS);
        assert!(store.get("s3").is_some());
    }
}
