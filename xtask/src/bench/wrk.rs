//! Reading what `wrk --latency` prints. wrk has no machine-readable output
//! (only Lua hooks), so its summary text is parsed; the units are wrk's own:
//! times in us/ms/s/m/h, counts with k/M/G suffixes (base 1000).

use anyhow::{Context, Result, anyhow, bail};

/// One wrk run's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub requests: u64,
    pub duration_s: f64,
    pub requests_per_sec: f64,
    pub latency_avg_us: f64,
    pub latency_max_us: f64,
    pub p50_us: f64,
    pub p75_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    /// wrk's "Non-2xx or 3xx responses": in fact every status of 400 and up.
    pub non_2xx: u64,
    pub errors: SocketErrors,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SocketErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    /// Requests that got no answer within wrk's `--timeout` (2 s by default).
    pub timeout: u64,
}

impl Summary {
    /// Every failed request: error statuses and socket errors. A run with
    /// any is flagged; its throughput may be that of fast failures.
    pub fn failures(&self) -> u64 {
        let e = self.errors;
        self.non_2xx + e.connect + e.read + e.write + e.timeout
    }
}

/// Parses the text `wrk --latency` prints.
pub fn parse(text: &str) -> Result<Summary> {
    let mut latency = None;
    let mut percentiles = [None; 4];
    let mut requests = None;
    let mut requests_per_sec = None;
    let mut non_2xx = 0;
    let mut errors = SocketErrors::default();
    for line in text.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            // "Latency   269.19us  337.24us   8.06ms   97.90%" (thread stats)
            ["Latency", avg, _stdev, max, _] => latency = Some((time_us(avg)?, time_us(max)?)),
            // "50%  244.00us" (the distribution --latency adds)
            [pct, value] if pct.ends_with('%') => {
                let slot = match *pct {
                    "50%" => 0,
                    "75%" => 1,
                    "90%" => 2,
                    "99%" => 3,
                    _ => continue,
                };
                percentiles[slot] = Some(time_us(value)?);
            }
            // "176421 requests in 3.00s, 28.10MB read"
            [count, "requests", "in", duration, ..] => {
                let duration = duration.trim_end_matches(',');
                requests = Some((count_value(count)? as u64, time_us(duration)? / 1e6));
            }
            ["Requests/sec:", value] => requests_per_sec = Some(number(value)?),
            ["Non-2xx", "or", "3xx", "responses:", value] => non_2xx = count_value(value)? as u64,
            // "Socket errors: connect 0, read 12, write 0, timeout 3"
            ["Socket", "errors:", rest @ ..] => {
                for pair in rest.chunks(2) {
                    let [name, value] = pair else {
                        bail!("unexpected socket error line: {line}");
                    };
                    let value = count_value(value.trim_end_matches(','))? as u64;
                    match *name {
                        "connect" => errors.connect = value,
                        "read" => errors.read = value,
                        "write" => errors.write = value,
                        "timeout" => errors.timeout = value,
                        other => bail!("unknown socket error kind `{other}`: {line}"),
                    }
                }
            }
            _ => {}
        }
    }
    let missing = |what: &str| anyhow!("no {what} in wrk's output");
    let (latency_avg_us, latency_max_us) = latency.ok_or_else(|| missing("latency line"))?;
    let [p50, p75, p90, p99] = percentiles;
    let (requests, duration_s) = requests.ok_or_else(|| missing("request count"))?;
    Ok(Summary {
        requests,
        duration_s,
        requests_per_sec: requests_per_sec.ok_or_else(|| missing("Requests/sec"))?,
        latency_avg_us,
        latency_max_us,
        p50_us: p50.ok_or_else(|| missing("50% latency (run wrk with --latency)"))?,
        p75_us: p75.ok_or_else(|| missing("75% latency"))?,
        p90_us: p90.ok_or_else(|| missing("90% latency"))?,
        p99_us: p99.ok_or_else(|| missing("99% latency"))?,
        non_2xx,
        errors,
    })
}

fn number(text: &str) -> Result<f64> {
    text.parse::<f64>()
        .with_context(|| format!("`{text}` is not a number"))
}

/// A duration as wrk prints it (`412.30us`, `2.13ms`, `1.02s`, `1.50m`), in µs.
fn time_us(text: &str) -> Result<f64> {
    const UNITS: [(&str, f64); 5] = [
        ("us", 1.0),
        ("ms", 1e3),
        ("s", 1e6),
        ("m", 60e6),
        ("h", 3600e6),
    ];
    // "us" and "ms" before "s" and "m": the longest suffix wins.
    for (suffix, scale) in UNITS {
        if let Some(value) = text.strip_suffix(suffix) {
            return Ok(number(value).with_context(|| format!("in the time `{text}`"))? * scale);
        }
    }
    bail!("`{text}` is not a time with a unit wrk uses (us, ms, s, m, h)")
}

/// A count as wrk prints it: `981`, `38.21k`, `1.20M`.
fn count_value(text: &str) -> Result<f64> {
    let (digits, scale) = match text.char_indices().last() {
        Some((i, 'k')) => (&text[..i], 1e3),
        Some((i, 'M')) => (&text[..i], 1e6),
        Some((i, 'G')) => (&text[..i], 1e9),
        _ => (text, 1.0),
    };
    Ok(number(digits).with_context(|| format!("in the count `{text}`"))? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wrk 4.1.0 against the reference service, 16 connections, captured
    /// while a build ran beside it (hence the long tail).
    const REFERENCE: &str = include_str!("testdata/wrk-reference.txt");
    /// wrk 4.1.0 against a server that answers 404 and sometimes stalls past
    /// `--timeout 1s`, captured.
    const ERRORS: &str = include_str!("testdata/wrk-errors.txt");

    #[test]
    fn parses_a_clean_run() {
        let s = parse(REFERENCE).expect("parses");
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert_eq!(s.requests, 72_088);
        assert!(close(s.duration_s, 3.01), "{s:?}");
        assert!(close(s.requests_per_sec, 23_969.51), "{s:?}");
        assert!(close(s.latency_avg_us, 1_760.0), "{s:?}");
        assert!(close(s.latency_max_us, 53_150.0), "{s:?}");
        assert!(close(s.p50_us, 367.0), "{s:?}");
        assert!(close(s.p75_us, 1_510.0), "{s:?}");
        assert!(close(s.p90_us, 4_150.0), "{s:?}");
        assert!(close(s.p99_us, 20_590.0), "{s:?}");
        assert_eq!(s.failures(), 0);
    }

    #[test]
    fn parses_errors() {
        let s = parse(ERRORS).expect("parses");
        assert_eq!(s.requests, 394);
        assert_eq!(s.non_2xx, 394);
        let expected = SocketErrors {
            timeout: 4,
            ..SocketErrors::default()
        };
        assert_eq!(s.errors, expected);
        assert_eq!(s.failures(), 398);
        assert!((s.requests_per_sec - 97.32).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn units() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b.abs().max(1.0);
        assert!(close(time_us("412.30us").expect("us"), 412.3));
        assert!(close(time_us("2.13ms").expect("ms"), 2_130.0));
        assert!(close(time_us("1.02s").expect("s"), 1_020_000.0));
        assert!(close(time_us("1.50m").expect("m"), 90e6));
        assert!(close(time_us("10.00s").expect("s"), 10e6));
        assert!(close(count_value("38.21k").expect("k"), 38_210.0));
        assert!(close(count_value("1.20M").expect("M"), 1_200_000.0));
        assert!(close(count_value("981").expect("plain"), 981.0));
        assert!(time_us("12").is_err());
        assert!(count_value("x").is_err());
    }

    #[test]
    fn refuses_output_without_latency_distribution() {
        let without: String = REFERENCE
            .lines()
            .filter(|l| !l.trim_start().starts_with("50%"))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = parse(&without).expect_err("no p50");
        assert!(format!("{err:#}").contains("50%"), "{err:#}");
        assert!(parse("").is_err());
    }
}
