//! What redaction costs a run: building the redactor for one token, and streaming 16 MiB of
//! output through it in 64 KiB chunks against a plain copy of the same chunks (the baseline),
//! interleaved, medians of 9 rounds. `cargo run --release -p cordon-secrets --example redactor_cost`

use std::time::{Duration, Instant};

use cordon_secrets::Redactor;

const TOKEN: &[u8] = b"ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn output() -> Vec<u8> {
    let mut out = Vec::with_capacity(16 << 20);
    let mut line = 0u64;
    while out.len() < 16 << 20 {
        line += 1;
        out.extend_from_slice(
            format!("{line:>8}: compiling crate number {line} of the build\n").as_bytes(),
        );
        if line.is_multiple_of(20_000) {
            out.extend_from_slice(TOKEN);
            out.push(b'\n');
        }
    }
    out
}

fn main() -> Result<(), cordon_secrets::SecretsError> {
    let mut builds = Vec::new();
    for _ in 0..31 {
        let started = Instant::now();
        let redactor = Redactor::new([("github", TOKEN)])?;
        builds.push(started.elapsed());
        std::hint::black_box(redactor);
    }
    let redactor = Redactor::new([("github", TOKEN)])?;
    let data = output();
    let (mut plain, mut redacted) = (Vec::new(), Vec::new());
    let mut out = Vec::with_capacity(data.len() + 4096);
    for _ in 0..9 {
        let started = Instant::now();
        out.clear();
        for chunk in data.chunks(64 << 10) {
            out.extend_from_slice(chunk);
        }
        plain.push(started.elapsed());
        std::hint::black_box(&out);

        let started = Instant::now();
        out.clear();
        let mut stream = redactor.stream();
        for chunk in data.chunks(64 << 10) {
            stream.push(chunk, &mut out);
        }
        stream.finish(&mut out);
        redacted.push(started.elapsed());
        std::hint::black_box(&out);
    }
    let mib = data.len() as f64 / f64::from(1 << 20);
    let rate = |d: Duration| mib / d.as_secs_f64();
    println!(
        "patterns for one {}-byte token: build median {:?}",
        TOKEN.len(),
        median(builds)
    );
    println!(
        "plain copy: {:.0} MiB/s (median {:?})",
        rate(median(plain.clone())),
        median(plain)
    );
    println!(
        "redacted:   {:.0} MiB/s (median {:?}), {} redactions",
        rate(median(redacted.clone())),
        median(redacted),
        redactor.redactions()
    );
    Ok(())
}
