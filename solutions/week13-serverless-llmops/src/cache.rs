//! The response cache: one JSON file per answer in a folder, named by the
//! SHA-256 of everything that shapes the answer.
//!
//! Only temperature-0 answers are cached (the harness decides): at 0 the
//! same request should get the same answer, so the cache changes nothing a
//! user could see; at a higher temperature it would freeze one random draw.
//! A hit costs nothing and makes no call; its usage is counted as saved.
//! A file is written whole or not at all, and only for an answer that
//! arrived whole, so a crash or a cut stream never leaves a bad answer to be
//! served later.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::ledger::Usage;

/// An answer and the tokens it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
}

/// What a cache file holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    answer: String,
    usage: Usage,
}

/// The cache key: the SHA-256 (lowercase hex) of the UTF-8 bytes of the
/// JSON array `[model, prompt, temperature, max_tokens]`, written compactly
/// by serde_json, e.g. `["wine-mini","Answer: Why sour?\n",0.0,256]`.
///
/// A JSON array gives each part its own quoted slot, so no two different
/// requests can spell the same bytes (as `"a" + "bc"` and `"ab" + "c"` would
/// when glued together). The prompt is the rendered text, not the template's
/// name: a changed template or variable is another question. The
/// temperature is written the shortest way that reads back exactly, `-0.0`
/// as `0.0`.
pub fn cache_key(model: &str, prompt: &str, temperature: f64, max_tokens: u32) -> String {
    // Adding 0.0 turns -0.0 into 0.0 and leaves every other value as it is.
    let canonical = serde_json::json!([model, prompt, temperature + 0.0, max_tokens]);
    crate::sha256_hex(canonical.to_string().as_bytes())
}

/// A folder of cached answers.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens the cache in `dir`, making the folder when it is missing.
    pub fn open(dir: &Path) -> Result<Self, AppError> {
        std::fs::create_dir_all(dir).map_err(|e| AppError::write(dir, e))?;
        Ok(Cache {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The answer stored under `key`, if there is a readable one. A file
    /// that is not a cache entry is a miss: the call is made again and its
    /// answer replaces the file.
    pub fn get(&self, key: &str) -> Option<Completion> {
        // lab:solution
        let bytes = std::fs::read(self.path(key)).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        Some(Completion {
            text: entry.answer,
            usage: entry.usage,
        })
        // lab:starter
        // // TODO(week 13): read the file at `self.path(key)`, parse it as an
        // // `Entry` and return its answer and usage; `None` when there is no
        // // such file or it is not an entry.
        // let _ = self.path(key);
        // todo!("week 13: look an answer up in the cache")
        // lab:end
    }

    /// Stores `completion` under `key`. The file is written beside its
    /// final name and then renamed over it, which is atomic: a reader finds
    /// the old entry, the new one or none, never half of one.
    pub fn put(&self, key: &str, completion: &Completion) -> Result<(), AppError> {
        let entry = Entry {
            answer: completion.text.clone(),
            usage: completion.usage,
        };
        // lab:solution
        let text = serde_json::to_string_pretty(&entry).unwrap_or_default() + "\n";
        let path = self.path(key);
        let partial = self
            .dir
            .join(format!(".{key}.{}.partial", std::process::id()));
        std::fs::write(&partial, text).map_err(|e| AppError::write(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            AppError::write(&path, e)
        })
        // lab:starter
        // // TODO(week 13): write `entry` as JSON to `self.path(key)`, so that
        // // a crash can never leave half a file there (write it under another
        // // name in the same folder, then rename it).
        // let _ = (entry, self.path(key));
        // todo!("week 13: store an answer in the cache")
        // lab:end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_stable_and_changes_with_each_part() {
        let key = cache_key("wine-mini", "Why sour?", 0.0, 256);
        // The documented encoding, spelled out: anyone can recompute a key.
        assert_eq!(
            key,
            crate::sha256_hex(br#"["wine-mini","Why sour?",0.0,256]"#)
        );
        assert_eq!(key, cache_key("wine-mini", "Why sour?", 0.0, 256));
        assert_eq!(key, cache_key("wine-mini", "Why sour?", -0.0, 256));
        for other in [
            cache_key("wine-max", "Why sour?", 0.0, 256),
            cache_key("wine-mini", "Why sour? ", 0.0, 256),
            cache_key("wine-mini", "Why sour?", 0.2, 256),
            cache_key("wine-mini", "Why sour?", 0.0, 255),
            // The parts cannot run into each other.
            cache_key("wine-mini\",\"Why", " sour?", 0.0, 256),
        ] {
            assert_ne!(key, other);
        }
        assert_eq!(key.len(), 64);
    }

    // lab:starter
    // #[ignore = "TODO(week 13): passes once Cache::get and Cache::put are written"]
    // lab:end
    #[test]
    fn an_answer_is_stored_whole_and_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let cache = Cache::open(&dir.path().join("new/cache")).expect("made");
        let key = cache_key("m", "p", 0.0, 8);
        assert_eq!(cache.get(&key), None);
        let answer = Completion {
            text: "Tartaric acid.".into(),
            usage: Usage {
                prompt_tokens: 4,
                completion_tokens: 2,
            },
        };
        cache.put(&key, &answer).expect("stored");
        assert_eq!(cache.get(&key), Some(answer.clone()));
        let file = dir.path().join(format!("new/cache/{key}.json"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).expect("a file")).expect("json");
        assert_eq!(json["answer"], "Tartaric acid.");
        assert_eq!(json["usage"]["total_tokens"], 6);
        // Only the entry is left in the folder.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("new/cache"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1);
        // A damaged entry is a miss, and the next answer replaces it.
        std::fs::write(&file, "{\"answer\": \"Tart").expect("damage");
        assert_eq!(cache.get(&key), None);
        cache.put(&key, &answer).expect("replaced");
        assert_eq!(cache.get(&key), Some(answer));
    }
}
