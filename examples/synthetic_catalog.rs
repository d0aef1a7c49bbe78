//! Fills a catalog with synthetic tracks, to measure `sonovec similar` at scale.
//!
//! ```sh
//! cargo run --release --example synthetic_catalog -- data/cat100k-192.db 100000 192 [LAYOUT]
//! sonovec similar --catalog data/cat100k-192.db --timings -k 10 <an id printed here>
//! ```
//!
//! Vectors are pseudo-random (deterministic, clustered around 1 000 centres so neighbours are
//! meaningful), of layout LAYOUT (default `synthetic-DIM`; pass this build's `vector_version`
//! to fit a projection on them); the records carry no audio facts.

use std::path::PathBuf;

use sonovec::catalog::Catalog;
use sonovec::Record;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: synthetic_catalog DB TRACKS DIM [LAYOUT]";
    let path = PathBuf::from(args.next().expect(usage));
    let tracks: usize = args.next().expect(usage).parse().expect(usage);
    let dim: usize = args.next().expect(usage).parse().expect(usage);
    let layout = args.next().unwrap_or_else(|| format!("synthetic-{dim}"));

    let mut random = SplitMix(42);
    let centres: Vec<Vec<f32>> = (0..1000)
        .map(|_| (0..dim).map(|_| random.uniform()).collect())
        .collect();
    let mut catalog = Catalog::open(&path)?;
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..tracks {
        let centre = &centres[i % centres.len()];
        let vector = centre.iter().map(|c| c + 0.3 * random.uniform()).collect();
        let id = format!("{:032x}", random.next() as u128 * 0x1_0000_0001 + i as u128);
        let mut record = Record::new(format!("synthetic/{i:06}.flac"), Some(id));
        record.vector_version = Some(layout.clone());
        record.vector = Some(vector);
        record.duration_s = Some(180.0);
        batch.push(record);
        if batch.len() == batch.capacity() || i + 1 == tracks {
            catalog.store_all(&batch)?;
            batch.clear();
        }
    }
    let (stored, _) = catalog.counts()?;
    let first = catalog.vectors(&layout)?.0.ids[0].clone();
    println!(
        "{stored} tracks in {}; an id to query: {first}",
        path.display()
    );
    Ok(())
}

/// splitmix64: a tiny deterministic generator, enough for test data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}
