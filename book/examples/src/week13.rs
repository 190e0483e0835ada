//! Week 13: the bookkeeping of an LLMOps harness.
//!
//! A prompt registry that versions templates and names each by the hash of its
//! content; a response cache keyed by model, prompt hash and parameters; a
//! ledger that counts tokens and prices them exactly; a harness that ties the
//! three together and runs an evaluation set; and a reader for the streamed
//! (Server-Sent Events) answers of an OpenAI-compatible endpoint. It also
//! holds the pure part of the AWS Lambda runtime API: its paths, the headers of an
//! invocation and the shape of an error. Nothing here touches the network:
//! the model is a trait, and the tests use a fake.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// SHA-256 of some text, as 64 lowercase hex digits.
fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

// ANCHOR: template
// ANCHOR: template_types
/// What can go wrong with prompts and their registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("no prompt is registered as `{0}`")]
    UnknownPrompt(String),
    #[error("prompt `{name}` has no version {version}")]
    UnknownVersion { name: String, version: u32 },
    #[error("a placeholder opened at byte {0} is never closed with `}}}}`")]
    Unclosed(usize),
    #[error("`{0}` is not a valid placeholder name (use a-z, 0-9 and _)")]
    BadPlaceholder(String),
    #[error("no value given for `{{{{{0}}}}}`")]
    MissingVariable(String),
    #[error("a value was given for `{0}`, which the template does not use")]
    UnexpectedVariable(String),
}

/// One piece of a parsed template: literal text or a `{{variable}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// One version of a prompt template, immutable once registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptTemplate {
    /// The prompt's name, e.g. `explain-prediction`.
    pub name: String,
    /// 1 for the first body registered under this name, then 2, 3, ...
    pub version: u32,
    /// SHA-256 of the body: the same text always has the same hash.
    pub hash: String,
    /// The template text, with `{{variable}}` placeholders.
    pub body: String,
    pieces: Vec<Piece>,
}
// ANCHOR_END: template_types

// ANCHOR: template_parse
impl PromptTemplate {
    fn parse(body: &str) -> Result<Vec<Piece>, PromptError> {
        let mut pieces = Vec::new();
        let mut rest = body;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or(PromptError::Unclosed(offset + start))?;
            let name = after[..end].trim();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(PromptError::BadPlaceholder(name.to_owned()));
            }
            pieces.push(Piece::Var(name.to_owned()));
            let consumed = start + 2 + end + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(pieces)
    }
    // ANCHOR_END: template_parse

    // ANCHOR: template_accessors
    /// `name@vN`: how logs, the cache and the ledger refer to this version.
    pub fn id(&self) -> String {
        format!("{}@v{}", self.name, self.version)
    }

    /// The first 12 hex digits of the hash, enough to tell versions apart.
    pub fn short_hash(&self) -> &str {
        &self.hash[..12]
    }

    /// The variables the template uses, sorted, each once.
    pub fn variables(&self) -> Vec<&str> {
        let mut vars: Vec<&str> = self
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Var(v) => Some(v.as_str()),
                Piece::Text(_) => None,
            })
            .collect();
        vars.sort_unstable();
        vars.dedup();
        vars
    }
    // ANCHOR_END: template_accessors

    // ANCHOR: template_render
    /// Fills every placeholder. Strict both ways: a missing value is an error,
    /// and so is a value the template does not use (usually a typo).
    pub fn render(&self, values: &BTreeMap<&str, &str>) -> Result<String, PromptError> {
        let used = self.variables();
        if let Some(extra) = values.keys().find(|k| !used.contains(k)) {
            return Err(PromptError::UnexpectedVariable((*extra).to_owned()));
        }
        let mut out = String::with_capacity(self.body.len());
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(var) => {
                    let value = values
                        .get(var.as_str())
                        .ok_or_else(|| PromptError::MissingVariable(var.clone()))?;
                    out.push_str(value);
                }
            }
        }
        Ok(out)
    }
}
// ANCHOR_END: template_render
// ANCHOR_END: template

// ANCHOR: registry
// ANCHOR: registry_register
/// Every version of every prompt, in the order they were registered.
#[derive(Debug, Default)]
pub struct PromptRegistry {
    prompts: BTreeMap<String, Vec<PromptTemplate>>,
}

impl PromptRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `body` under `name`. If it equals the latest version, nothing
    /// changes and that version is returned: registering is idempotent, so a
    /// deploy can register its prompts at every start. Any other body becomes
    /// the next version, even one equal to an older version (a revert keeps
    /// the old hash but gets a new number).
    pub fn register(&mut self, name: &str, body: &str) -> Result<&PromptTemplate, PromptError> {
        let pieces = PromptTemplate::parse(body)?;
        let hash = sha256_hex(body);
        let versions = self.prompts.entry(name.to_owned()).or_default();
        let unchanged = versions.last().is_some_and(|latest| latest.hash == hash);
        if !unchanged {
            let version = u32::try_from(versions.len() + 1).expect("fewer than 2^32 versions");
            versions.push(PromptTemplate {
                name: name.to_owned(),
                version,
                hash,
                body: body.to_owned(),
                pieces,
            });
        }
        Ok(versions.last().expect("a version was just ensured"))
    }
    // ANCHOR_END: registry_register

    // ANCHOR: registry_lookup
    /// The newest version of a prompt.
    pub fn latest(&self, name: &str) -> Result<&PromptTemplate, PromptError> {
        self.prompts
            .get(name)
            .and_then(|versions| versions.last())
            .ok_or_else(|| PromptError::UnknownPrompt(name.to_owned()))
    }

    /// A pinned version: what an experiment or a rollback asks for.
    pub fn get(&self, name: &str, version: u32) -> Result<&PromptTemplate, PromptError> {
        let versions = self
            .prompts
            .get(name)
            .ok_or_else(|| PromptError::UnknownPrompt(name.to_owned()))?;
        version
            .checked_sub(1)
            .and_then(|i| versions.get(i as usize))
            .ok_or_else(|| PromptError::UnknownVersion {
                name: name.to_owned(),
                version,
            })
    }
}
// ANCHOR_END: registry_lookup
// ANCHOR_END: registry

// ANCHOR: cache
// ANCHOR: cache_key
/// The sampling parameters that change what a model answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    pub temperature: f32,
    pub max_tokens: u32,
}

impl Params {
    /// At temperature 0 the same request should get the same answer, so
    /// caching it changes nothing the user can see. At higher temperatures a
    /// cache would freeze one random sample: we do not cache those.
    pub fn cacheable(&self) -> bool {
        self.temperature == 0.0
    }
}

/// What identifies an answer: the model, the exact prompt text (by its hash)
/// and the parameters. Change any of the three and it is another question.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey {
    pub model: String,
    pub prompt_hash: String,
    pub params: String,
}

impl CacheKey {
    pub fn new(model: &str, prompt: &str, params: &Params) -> Self {
        Self {
            model: model.to_owned(),
            prompt_hash: sha256_hex(prompt),
            // Serialising gives one canonical spelling of the parameters.
            params: serde_json::to_string(params).expect("Params always serialises"),
        }
    }
}
// ANCHOR_END: cache_key

// ANCHOR: cache_store
/// A model's answer with the tokens it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
}

/// An in-memory response cache that counts its hits and misses.
#[derive(Debug, Default)]
pub struct ResponseCache {
    entries: HashMap<CacheKey, Completion>,
    pub hits: u64,
    pub misses: u64,
}

impl ResponseCache {
    pub fn get(&mut self, key: &CacheKey) -> Option<&Completion> {
        let found = self.entries.get(key);
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    pub fn insert(&mut self, key: CacheKey, completion: Completion) {
        self.entries.insert(key, completion);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
// ANCHOR_END: cache_store
// ANCHOR_END: cache

// ANCHOR: ledger
// ANCHOR: ledger_usage
/// Tokens, as OpenAI-compatible APIs report them in `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// A model's price list, in millionths of a dollar per million tokens:
/// $0.15 per million input tokens is `input: 150_000`. Integers, so that
/// adding up a month of calls never drifts the way floating point does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub input: u64,
    pub output: u64,
}
// ANCHOR_END: ledger_usage

// ANCHOR: ledger_rows
/// Totals for one (model, prompt version) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerRow {
    pub calls: u64,
    pub cache_hits: u64,
    /// Tokens actually paid for (cache misses only).
    pub billed: Usage,
    /// Tokens a cache hit saved: what those calls would have cost.
    pub saved: Usage,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no price is known for model `{0}`; refusing to count it as free")]
pub struct UnknownModel(pub String);

/// Counts every call by model and prompt version and prices the totals.
#[derive(Debug, Default)]
pub struct Ledger {
    prices: BTreeMap<String, Price>,
    rows: BTreeMap<(String, String), LedgerRow>,
}
// ANCHOR_END: ledger_rows

// ANCHOR: ledger_record
impl Ledger {
    pub fn with_prices(prices: impl IntoIterator<Item = (String, Price)>) -> Self {
        Self {
            prices: prices.into_iter().collect(),
            rows: BTreeMap::new(),
        }
    }

    pub fn record(
        &mut self,
        model: &str,
        prompt_id: &str,
        usage: Usage,
        cache_hit: bool,
    ) -> Result<(), UnknownModel> {
        if !self.prices.contains_key(model) {
            return Err(UnknownModel(model.to_owned()));
        }
        let row = self
            .rows
            .entry((model.to_owned(), prompt_id.to_owned()))
            .or_default();
        row.calls += 1;
        if cache_hit {
            row.cache_hits += 1;
            row.saved.add(usage);
        } else {
            row.billed.add(usage);
        }
        Ok(())
    }

    pub fn rows(&self) -> impl Iterator<Item = (&(String, String), &LedgerRow)> {
        self.rows.iter()
    }
    // ANCHOR_END: ledger_record

    // ANCHOR: ledger_cost
    /// Cost of some usage at a model's price, in micro-dollars, rounded up
    /// once at the end (never per call, where rounding errors would add up).
    pub fn cost_micros(&self, model: &str, usage: Usage) -> Result<u64, UnknownModel> {
        let price = self
            .prices
            .get(model)
            .ok_or_else(|| UnknownModel(model.to_owned()))?;
        let scaled = u128::from(usage.prompt_tokens) * u128::from(price.input)
            + u128::from(usage.completion_tokens) * u128::from(price.output);
        let micros = scaled.div_ceil(1_000_000);
        Ok(u64::try_from(micros).expect("less than 18 trillion dollars"))
    }

    /// What everything billed so far cost, in micro-dollars.
    pub fn total_cost_micros(&self) -> Result<u64, UnknownModel> {
        let mut per_model: BTreeMap<&str, Usage> = BTreeMap::new();
        for ((model, _), row) in &self.rows {
            per_model.entry(model).or_default().add(row.billed);
        }
        per_model
            .into_iter()
            .map(|(model, usage)| self.cost_micros(model, usage))
            .sum()
    }
}
// ANCHOR_END: ledger_cost
// ANCHOR_END: ledger

// ANCHOR: harness
// ANCHOR: harness_types
/// Anything that answers a prompt: an HTTP client for an OpenAI-compatible
/// endpoint in production, a fake in tests.
pub trait ChatModel {
    fn complete(
        &mut self,
        model: &str,
        prompt: &str,
        params: &Params,
    ) -> Result<Completion, String>;
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Price(#[from] UnknownModel),
    #[error("the model failed: {0}")]
    Model(String),
}

/// One answer, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub text: String,
    pub prompt_id: String,
    pub cached: bool,
}

/// The registry, the cache and the ledger around one model client.
pub struct Harness<M> {
    pub model: M,
    pub registry: PromptRegistry,
    pub cache: ResponseCache,
    pub ledger: Ledger,
}
// ANCHOR_END: harness_types

// ANCHOR: harness_ask
impl<M: ChatModel> Harness<M> {
    /// Renders a pinned prompt version, answers from the cache when it may,
    /// calls the model otherwise, and records the tokens either way.
    pub fn ask(
        &mut self,
        prompt: (&str, u32),
        values: &BTreeMap<&str, &str>,
        model: &str,
        params: &Params,
    ) -> Result<Answer, HarnessError> {
        let template = self.registry.get(prompt.0, prompt.1)?;
        let prompt_id = template.id();
        let text = template.render(values)?;
        let key = CacheKey::new(model, &text, params);

        if params.cacheable()
            && let Some(hit) = self.cache.get(&key)
        {
            let hit = hit.clone();
            self.ledger.record(model, &prompt_id, hit.usage, true)?;
            return Ok(Answer {
                text: hit.text,
                prompt_id,
                cached: true,
            });
        }
        let completion = self
            .model
            .complete(model, &text, params)
            .map_err(HarnessError::Model)?;
        self.ledger
            .record(model, &prompt_id, completion.usage, false)?;
        let answer = Answer {
            text: completion.text.clone(),
            prompt_id,
            cached: false,
        };
        if params.cacheable() {
            self.cache.insert(key, completion);
        }
        Ok(answer)
    }
}
// ANCHOR_END: harness_ask

// ANCHOR: harness_eval_types
/// One case of an evaluation set: the template's values, and a phrase a good
/// answer must contain.
#[derive(Debug, Clone)]
pub struct EvalCase {
    pub values: BTreeMap<&'static str, &'static str>,
    pub must_contain: &'static str,
}

/// The result of running an evaluation set against one prompt version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalReport {
    pub prompt_id: String,
    pub passed: usize,
    pub total: usize,
    /// Indexes of the cases that failed, to look at by hand.
    pub failed: Vec<usize>,
}
// ANCHOR_END: harness_eval_types

// ANCHOR: harness_evaluate
/// Runs every case once at temperature 0 and scores the answers.
pub fn evaluate<M: ChatModel>(
    harness: &mut Harness<M>,
    prompt: (&str, u32),
    model: &str,
    cases: &[EvalCase],
) -> Result<EvalReport, HarnessError> {
    let params = Params {
        temperature: 0.0,
        max_tokens: 256,
    };
    let prompt_id = harness.registry.get(prompt.0, prompt.1)?.id();
    let mut failed = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let answer = harness.ask(prompt, &case.values, model, &params)?;
        let want = case.must_contain.to_lowercase();
        if !answer.text.to_lowercase().contains(&want) {
            failed.push(i);
        }
    }
    Ok(EvalReport {
        prompt_id,
        passed: cases.len() - failed.len(),
        total: cases.len(),
        failed,
    })
}
// ANCHOR_END: harness_evaluate
// ANCHOR_END: harness

// ANCHOR: stream
// ANCHOR: stream_types
/// A streamed chat completion, put back together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamedReply {
    pub text: String,
    pub finish_reason: Option<String>,
    /// Present when the request asked for `stream_options.include_usage`.
    pub usage: Option<Usage>,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("event {0} is not a chat.completion.chunk: {1}")]
    BadChunk(usize, serde_json::Error),
    #[error("the stream ended without `data: [DONE]`: the answer may be cut short")]
    Truncated,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
}
// ANCHOR_END: stream_types

// ANCHOR: stream_collect
/// Reads the body of a streamed `/v1/chat/completions` response: one JSON
/// chunk per `data:` line, ending with `data: [DONE]`. Blank lines end
/// events; lines starting with `:` are comments (keep-alives).
pub fn collect_stream(body: &str) -> Result<StreamedReply, StreamError> {
    let mut reply = StreamedReply::default();
    for (n, line) in body.lines().enumerate() {
        let Some(data) = line.strip_prefix("data:") else {
            continue; // blank separators, comments, `event:` or `id:` lines
        };
        let data = data.strip_prefix(' ').unwrap_or(data);
        if data == "[DONE]" {
            return Ok(reply);
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| StreamError::BadChunk(n, e))?;
        for choice in chunk.choices {
            if let Some(piece) = choice.delta.content {
                reply.text.push_str(&piece);
            }
            if choice.finish_reason.is_some() {
                reply.finish_reason = choice.finish_reason;
            }
        }
        if chunk.usage.is_some() {
            reply.usage = chunk.usage;
        }
    }
    Err(StreamError::Truncated)
}
// ANCHOR_END: stream_collect
// ANCHOR_END: stream

// ANCHOR: lambda
// ANCHOR: lambda_api
/// The Lambda runtime API's paths, relative to `http://$AWS_LAMBDA_RUNTIME_API`.
pub mod runtime_api {
    pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    pub fn response(request_id: &str) -> String {
        format!("/2018-06-01/runtime/invocation/{request_id}/response")
    }

    pub fn error(request_id: &str) -> String {
        format!("/2018-06-01/runtime/invocation/{request_id}/error")
    }
}

/// What `GET .../invocation/next` says about the invocation it hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub request_id: String,
    /// When the platform will stop the function, in Unix milliseconds.
    pub deadline_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    #[error("the runtime API sent no `{0}` header")]
    MissingHeader(&'static str),
    #[error("`Lambda-Runtime-Deadline-Ms` is not a number of milliseconds: {0:?}")]
    BadDeadline(String),
}
// ANCHOR_END: lambda_api

// ANCHOR: lambda_invocation
impl Invocation {
    /// Reads the two headers every invocation carries. Header names are
    /// case-insensitive in HTTP, so compare them that way.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, InvocationError> {
        let mut request_id = None;
        let mut deadline = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("Lambda-Runtime-Aws-Request-Id") {
                request_id = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("Lambda-Runtime-Deadline-Ms") {
                deadline = Some(value);
            }
        }
        let request_id = request_id.ok_or(InvocationError::MissingHeader(
            "Lambda-Runtime-Aws-Request-Id",
        ))?;
        let deadline =
            deadline.ok_or(InvocationError::MissingHeader("Lambda-Runtime-Deadline-Ms"))?;
        let deadline_ms = deadline
            .trim()
            .parse()
            .map_err(|_| InvocationError::BadDeadline(deadline.to_owned()))?;
        Ok(Self {
            request_id,
            deadline_ms,
        })
    }

    /// Milliseconds left before the deadline (0 once it has passed).
    pub fn remaining_ms(&self, now_ms: u64) -> u64 {
        self.deadline_ms.saturating_sub(now_ms)
    }
}

/// The body to POST to `runtime_api::error`: a JSON object the platform
/// passes on to the caller, with the error's type and message.
pub fn error_body(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}
// ANCHOR_END: lambda_invocation
// ANCHOR_END: lambda

#[cfg(test)]
mod tests {
    use super::*;

    const EXPLAIN_V1: &str = "Explain a wine quality prediction of {{quality}}.";
    const EXPLAIN_V2: &str = "You are a sommelier. The model predicted quality {{quality}} \
                              for a wine with {{alcohol}}% alcohol. Explain it in one sentence.";

    fn values<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, &'a str> {
        pairs.iter().copied().collect()
    }

    /// A deterministic stand-in for a language model: it mentions alcohol only
    /// when the prompt does, and charges one token per word.
    #[derive(Default)]
    struct FakeModel {
        calls: usize,
    }

    impl ChatModel for FakeModel {
        fn complete(
            &mut self,
            _model: &str,
            prompt: &str,
            _: &Params,
        ) -> Result<Completion, String> {
            self.calls += 1;
            let text = if prompt.contains("alcohol") {
                "Higher alcohol usually means a better score.".to_owned()
            } else {
                "The wine looks average.".to_owned()
            };
            let usage = Usage {
                prompt_tokens: prompt.split_whitespace().count() as u64,
                completion_tokens: text.split_whitespace().count() as u64,
            };
            Ok(Completion { text, usage })
        }
    }

    fn harness() -> Harness<FakeModel> {
        let mut registry = PromptRegistry::new();
        registry.register("explain", EXPLAIN_V1).expect("v1 parses");
        registry.register("explain", EXPLAIN_V2).expect("v2 parses");
        let price = Price {
            input: 150_000,
            output: 600_000,
        };
        Harness {
            model: FakeModel::default(),
            registry,
            cache: ResponseCache::default(),
            ledger: Ledger::with_prices([("small-model".to_owned(), price)]),
        }
    }

    const T0: Params = Params {
        temperature: 0.0,
        max_tokens: 64,
    };

    #[test]
    fn registering_the_same_body_twice_is_idempotent() {
        let mut registry = PromptRegistry::new();
        let first = registry
            .register("explain", EXPLAIN_V1)
            .expect("parses")
            .clone();
        let again = registry.register("explain", EXPLAIN_V1).expect("parses");
        assert_eq!(again, &first);
        assert_eq!(again.id(), "explain@v1");
        assert_eq!(first.hash, sha256_hex(EXPLAIN_V1));
        assert_eq!(first.short_hash().len(), 12);
    }

    #[test]
    fn a_changed_body_is_a_new_version_and_a_revert_keeps_the_old_hash() {
        let mut registry = PromptRegistry::new();
        let v1 = registry
            .register("explain", EXPLAIN_V1)
            .expect("parses")
            .clone();
        let v2 = registry
            .register("explain", EXPLAIN_V2)
            .expect("parses")
            .clone();
        let v3 = registry
            .register("explain", EXPLAIN_V1)
            .expect("parses")
            .clone();
        assert_eq!((v1.version, v2.version, v3.version), (1, 2, 3));
        assert_ne!(v1.hash, v2.hash);
        assert_eq!(v1.hash, v3.hash);
        assert_eq!(registry.latest("explain").expect("registered").version, 3);
        assert_eq!(registry.get("explain", 2).expect("exists").body, EXPLAIN_V2);
        assert_eq!(
            registry.get("explain", 0),
            Err(PromptError::UnknownVersion {
                name: "explain".into(),
                version: 0
            })
        );
        assert_eq!(
            registry.latest("summarise"),
            Err(PromptError::UnknownPrompt("summarise".into()))
        );
    }

    #[test]
    fn rendering_is_strict_about_variables() {
        let mut registry = PromptRegistry::new();
        let t = registry.register("explain", EXPLAIN_V2).expect("parses");
        assert_eq!(t.variables(), ["alcohol", "quality"]);
        let text = t
            .render(&values(&[("quality", "6"), ("alcohol", "12.5")]))
            .expect("all values given");
        assert!(text.contains("quality 6 for a wine with 12.5% alcohol"));
        assert_eq!(
            t.render(&values(&[("quality", "6")])),
            Err(PromptError::MissingVariable("alcohol".into()))
        );
        assert_eq!(
            t.render(&values(&[
                ("quality", "6"),
                ("alcohol", "9"),
                ("colour", "red")
            ])),
            Err(PromptError::UnexpectedVariable("colour".into()))
        );
    }

    #[test]
    fn malformed_templates_are_refused_at_registration() {
        let mut registry = PromptRegistry::new();
        assert_eq!(
            registry
                .register("bad", "Predict {{quality")
                .map(|t| t.id()),
            Err(PromptError::Unclosed(8))
        );
        assert_eq!(
            registry
                .register("bad", "Predict {{Quality Score}}")
                .map(|t| t.id()),
            Err(PromptError::BadPlaceholder("Quality Score".into()))
        );
        assert!(registry.latest("bad").is_err(), "nothing was registered");
    }

    #[test]
    fn the_cache_key_changes_with_model_prompt_and_params() {
        let base = CacheKey::new("small-model", "prompt", &T0);
        assert_eq!(base, CacheKey::new("small-model", "prompt", &T0));
        assert_ne!(base, CacheKey::new("large-model", "prompt", &T0));
        assert_ne!(base, CacheKey::new("small-model", "prompt.", &T0));
        let longer = Params {
            max_tokens: 65,
            ..T0
        };
        assert_ne!(base, CacheKey::new("small-model", "prompt", &longer));
        assert_eq!(base.params, r#"{"temperature":0.0,"max_tokens":64}"#);
    }

    #[test]
    fn a_repeated_question_is_answered_from_the_cache_and_not_billed_twice() {
        let mut h = harness();
        let vars = values(&[("quality", "5"), ("alcohol", "9.4")]);
        let first = h
            .ask(("explain", 2), &vars, "small-model", &T0)
            .expect("answers");
        let second = h
            .ask(("explain", 2), &vars, "small-model", &T0)
            .expect("answers");
        assert!(!first.cached);
        assert!(second.cached);
        assert_eq!(first.text, second.text);
        assert_eq!(h.model.calls, 1);
        assert_eq!((h.cache.hits, h.cache.misses, h.cache.len()), (1, 1, 1));

        let (key, row) = h.ledger.rows().next().expect("one row");
        assert_eq!(key, &("small-model".to_owned(), "explain@v2".to_owned()));
        assert_eq!((row.calls, row.cache_hits), (2, 1));
        assert_eq!(row.billed, row.saved, "the hit saved exactly one call");
    }

    #[test]
    fn sampled_answers_are_never_cached() {
        let mut h = harness();
        let warm = Params {
            temperature: 0.7,
            ..T0
        };
        let vars = values(&[("quality", "5")]);
        for _ in 0..3 {
            let answer = h
                .ask(("explain", 1), &vars, "small-model", &warm)
                .expect("answers");
            assert!(!answer.cached);
        }
        assert_eq!(h.model.calls, 3);
        assert!(h.cache.is_empty());
    }

    #[test]
    fn costs_are_exact_integers_rounded_up_once() {
        let ledger = Ledger::with_prices([(
            "small-model".to_owned(),
            Price {
                input: 150_000,
                output: 600_000,
            },
        )]);
        // 1,000 input tokens at $0.15/M = 150 micro-dollars; 500 output
        // tokens at $0.60/M = 300 micro-dollars.
        let usage = Usage {
            prompt_tokens: 1_000,
            completion_tokens: 500,
        };
        assert_eq!(ledger.cost_micros("small-model", usage), Ok(450));
        // One token costs 0.15 micro-dollars: billed as 1, not 0.
        let one = Usage {
            prompt_tokens: 1,
            completion_tokens: 0,
        };
        assert_eq!(ledger.cost_micros("small-model", one), Ok(1));
        assert_eq!(
            ledger.cost_micros("mystery-model", usage),
            Err(UnknownModel("mystery-model".into()))
        );
    }

    #[test]
    fn an_unpriced_model_is_an_error_not_free() {
        let mut h = harness();
        let err = h
            .ask(
                ("explain", 1),
                &values(&[("quality", "5")]),
                "mystery-model",
                &T0,
            )
            .expect_err("no price for this model");
        assert!(err.to_string().contains("mystery-model"));
    }

    #[test]
    fn an_evaluation_set_compares_prompt_versions_and_reruns_hit_the_cache() {
        let cases: Vec<EvalCase> = [("5", "9.4"), ("6", "11.0"), ("7", "12.8")]
            .into_iter()
            .map(|(quality, alcohol)| EvalCase {
                values: [("quality", quality), ("alcohol", alcohol)].into(),
                must_contain: "alcohol",
            })
            .collect();
        let v1_cases: Vec<EvalCase> = cases
            .iter()
            .map(|c| EvalCase {
                values: [("quality", c.values["quality"])].into(),
                must_contain: c.must_contain,
            })
            .collect();

        let mut h = harness();
        let v1 = evaluate(&mut h, ("explain", 1), "small-model", &v1_cases).expect("runs");
        let v2 = evaluate(&mut h, ("explain", 2), "small-model", &cases).expect("runs");
        assert_eq!(
            (v1.prompt_id.as_str(), v1.passed, v1.total),
            ("explain@v1", 0, 3)
        );
        assert_eq!(v1.failed, [0, 1, 2]);
        assert_eq!(
            (v2.prompt_id.as_str(), v2.passed, v2.failed.len()),
            ("explain@v2", 3, 0)
        );

        let cost_before = h.ledger.total_cost_micros().expect("priced");
        let again = evaluate(&mut h, ("explain", 2), "small-model", &cases).expect("runs");
        assert_eq!(again, v2);
        assert_eq!(h.model.calls, 6, "the rerun made no new calls");
        assert_eq!(h.cache.hits, 3);
        assert_eq!(h.ledger.total_cost_micros().expect("priced"), cost_before);
    }

    #[test]
    fn a_streamed_completion_is_reassembled_with_its_usage() {
        let body = concat!(
            ": keep-alive\n\n",
            r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            "\n\n",
            r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Quality 5: "},"finish_reason":null}]}"#,
            "\n\n",
            r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"low alcohol."},"finish_reason":"stop"}]}"#,
            "\n\n",
            r#"data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":21,"completion_tokens":5,"total_tokens":26}}"#,
            "\n\n",
            "data: [DONE]\n\n",
        );
        let reply = collect_stream(body).expect("well-formed stream");
        assert_eq!(reply.text, "Quality 5: low alcohol.");
        assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
        let usage = reply.usage.expect("usage chunk");
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens, usage.total()),
            (21, 5, 26)
        );
    }

    #[test]
    fn a_stream_without_done_or_with_bad_json_is_an_error() {
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"Qual\"}}]}\n\n";
        assert!(matches!(collect_stream(cut), Err(StreamError::Truncated)));
        let bad = "data: {\"choices\": [\n\ndata: [DONE]\n\n";
        assert!(matches!(
            collect_stream(bad),
            Err(StreamError::BadChunk(0, _))
        ));
    }

    #[test]
    fn an_invocation_is_read_from_its_headers_in_any_case() {
        let inv = Invocation::from_headers([
            ("content-type", "application/json"),
            (
                "lambda-runtime-aws-request-id",
                "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            ),
            ("Lambda-Runtime-Deadline-Ms", "1542409706888"),
        ])
        .expect("both headers present");
        assert_eq!(inv.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(inv.remaining_ms(1_542_409_703_888), 3_000);
        assert_eq!(inv.remaining_ms(1_542_409_800_000), 0, "past the deadline");
        assert_eq!(
            runtime_api::response(&inv.request_id),
            "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response"
        );
    }

    #[test]
    fn an_invocation_without_a_usable_deadline_is_refused() {
        assert_eq!(
            Invocation::from_headers([("Lambda-Runtime-Aws-Request-Id", "r1")]),
            Err(InvocationError::MissingHeader("Lambda-Runtime-Deadline-Ms"))
        );
        assert_eq!(
            Invocation::from_headers([
                ("Lambda-Runtime-Aws-Request-Id", "r1"),
                ("Lambda-Runtime-Deadline-Ms", "soon"),
            ]),
            Err(InvocationError::BadDeadline("soon".into()))
        );
        let body: serde_json::Value =
            serde_json::from_str(&error_body("InvalidInput", "alcohol is negative")).expect("json");
        assert_eq!(body["errorType"], "InvalidInput");
        assert_eq!(body["errorMessage"], "alcohol is negative");
        assert_eq!(
            runtime_api::error("r1"),
            "/2018-06-01/runtime/invocation/r1/error"
        );
    }
}
