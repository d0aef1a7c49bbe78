//! Learned embeddings: musicnn (Pons & Serra, 2019), run in pure Rust from its exported weights.
//!
//! [`Model`] holds a network's weights and tag names; [`network::forward`] runs one 3 s patch;
//! [`Embedder`] streams a track's spectrogram through the network patch by patch.

mod aligned;
pub(crate) mod amx;
mod bf16;
mod conv;
pub(crate) mod gemm;
pub mod network;
pub(crate) mod simd;
mod sink;
mod spectral;
pub(crate) mod weights;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use self::aligned::Aligned;
use crate::bench::thread_cpu_time;

pub(crate) use gemm::dense_product;

pub use network::{
    Kernels, Workspace, DOMINANT_GEMM, EMBEDDING_DIM, FRONT_MACS_PER_PATCH, MACS_PER_PATCH, N_MELS,
    N_TAGS, PATCH_FRAMES,
};
pub use sink::{Embedder, EmbeddingSummary};
pub use weights::{Weights, WeightsError};

/// The models shipped in `models/`, compiled into the binary so that it needs no files at run
/// time, aligned so that their `f32` tensors can be read in place.
static MSD_SAFETENSORS: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../models/msd_musicnn.safetensors"));
static MTT_SAFETENSORS: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../models/mtt_musicnn.safetensors"));
static MSD_CARD: &str = include_str!("../../models/msd_musicnn.json");
static MTT_CARD: &str = include_str!("../../models/mtt_musicnn.json");

/// Which pretrained musicnn to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    /// MSD_musicnn: Million Song Dataset, 50 tags of genre, mood and era (the default).
    Msd,
    /// MTT_musicnn: MagnaTagATune, 50 tags of instruments and timbre.
    Mtt,
    /// A safetensors file exported by `scripts/export_musicnn.py`, with its model card (`.json`
    /// beside it) for the tag names.
    File(std::path::PathBuf),
}

impl ModelChoice {
    /// The model's name, as in its id before the `@`: `msd_musicnn`, `mtt_musicnn`, or a file's
    /// stem.
    pub fn name(&self) -> String {
        match self {
            ModelChoice::Msd => "msd_musicnn".to_string(),
            ModelChoice::Mtt => "mtt_musicnn".to_string(),
            ModelChoice::File(path) => file_model_name(path).to_string(),
        }
    }
}

impl ModelChoice {
    /// The model's id, `<name>@<first 12 hex digits of its safetensors file's SHA-256>`, as
    /// [`Model::id`] would be after loading, without parsing the weights. The content hash, not
    /// the name, is what tells two models apart: a retrained `msd_musicnn.safetensors` gets an
    /// id of its own.
    pub fn id(&self) -> Result<String, WeightsError> {
        static MSD_ID: OnceLock<String> = OnceLock::new();
        static MTT_ID: OnceLock<String> = OnceLock::new();
        let id = |name: &str, bytes: &[u8]| format!("{name}@{}", &sha256_hex(bytes)[..12]);
        Ok(match self {
            ModelChoice::Msd => MSD_ID
                .get_or_init(|| id("msd_musicnn", &MSD_SAFETENSORS.0))
                .clone(),
            ModelChoice::Mtt => MTT_ID
                .get_or_init(|| id("mtt_musicnn", &MTT_SAFETENSORS.0))
                .clone(),
            ModelChoice::File(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| WeightsError(format!("{}: {e}", path.display())))?;
                id(file_model_name(path), &bytes)
            }
        })
    }
}

fn file_model_name(path: &Path) -> &str {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("musicnn")
}

/// A loaded model: weights, tag names, id, and a pool of reusable workspaces.
pub struct Model {
    /// Tag names, in the order of the network's outputs.
    pub tags: Vec<String>,
    /// `<name>@<first 12 hex digits of the safetensors file's SHA-256>`, e.g. `msd_musicnn@3f…`.
    pub id: String,
    /// Full SHA-256 of the safetensors file, hex.
    pub sha256: String,
    /// What runs the network, shared with the patches in flight on the thread pool.
    core: Arc<Core>,
}

/// The network's weights and everything a forward pass needs, behind an `Arc` so that patches
/// can run on the thread pool while the caller goes on decoding.
pub(crate) struct Core {
    weights: Weights,
    /// The front end's kernels packed for this CPU (`None`: the GEMM path).
    kernels: Option<Kernels>,
    workspaces: Mutex<Vec<Workspace>>,
    /// Patches computed (not taken from the silence cache or a repeat) and the thread CPU time
    /// spent on them and on their log-mel input, in nanoseconds.
    computed: AtomicU64,
    cpu_ns: AtomicU64,
    /// The output (embedding then tags) for a patch of digital silence, computed once: a track
    /// of silence then costs what its audio justifies, with the same numbers.
    silence: OnceLock<Vec<f32>>,
}

impl Core {
    fn new(weights: Weights, isa: simd::Isa) -> Core {
        Core {
            kernels: Kernels::new(&weights, isa),
            weights,
            workspaces: Mutex::new(Vec::new()),
            computed: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            silence: OnceLock::new(),
        }
    }
}

impl Model {
    pub fn load(choice: &ModelChoice) -> Result<Model, WeightsError> {
        match choice {
            ModelChoice::Msd => Model::compiled_in("msd_musicnn", &MSD_SAFETENSORS.0, MSD_CARD),
            ModelChoice::Mtt => Model::compiled_in("mtt_musicnn", &MTT_SAFETENSORS.0, MTT_CARD),
            ModelChoice::File(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| WeightsError(format!("{}: {e}", path.display())))?;
                let card_path = path.with_extension("json");
                let card = std::fs::read_to_string(&card_path)
                    .map_err(|e| WeightsError(format!("{}: {e}", card_path.display())))?;
                let weights = Weights::from_safetensors(&bytes)?;
                Model::from_parts(file_model_name(path), weights, &bytes, &card)
            }
        }
    }

    fn compiled_in(
        name: &str,
        safetensors: &'static [u8],
        card: &str,
    ) -> Result<Model, WeightsError> {
        let weights = Weights::from_static_safetensors(safetensors)?;
        Model::from_parts(name, weights, safetensors, card)
    }

    fn from_parts(
        name: &str,
        weights: Weights,
        safetensors: &[u8],
        card: &str,
    ) -> Result<Model, WeightsError> {
        let card: serde_json::Value =
            serde_json::from_str(card).map_err(|e| WeightsError(format!("model card: {e}")))?;
        let tags: Vec<String> = card["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if tags.len() != N_TAGS {
            return Err(WeightsError(format!(
                "model card lists {} tags, the network has {N_TAGS}",
                tags.len()
            )));
        }
        let sha256 = sha256_hex(safetensors);
        Ok(Model {
            tags,
            id: format!("{name}@{}", &sha256[..12]),
            sha256,
            core: Arc::new(Core::new(weights, simd::Isa::detect())),
        })
    }

    /// This model with its front end in f32 on every CPU: where [`Model::isa`] is `amx-bf16`
    /// or `avx512f+bf16`, its bf16 products become f32 FMAs again (slower; the embedding moves
    /// by about cosine 0.9999). For parity checks with the original network, and wherever an
    /// embedding must not depend on the CPU beyond f32 rounding.
    pub fn in_f32(&self) -> Model {
        let isa = match self.core.kernels.as_ref().map(Kernels::isa) {
            Some(simd::Isa::Amx | simd::Isa::Avx512Bf16) => simd::Isa::Avx512,
            Some(isa) => isa,
            None => simd::Isa::Fallback,
        };
        self.on(isa)
    }

    /// This model with its front end packed for `isa`.
    fn on(&self, isa: simd::Isa) -> Model {
        Model {
            tags: self.tags.clone(),
            id: self.id.clone(),
            sha256: self.sha256.clone(),
            core: Arc::new(Core::new(self.core.weights.clone(), isa)),
        }
    }

    /// This model with its front end's products in bf16 on each path this CPU has for them
    /// (AMX tiles, AVX-512 BF16 pairs), whether or not one of them is its default (see
    /// [`Model::isa`]); empty on a CPU with neither. For testing those paths wherever they run.
    pub fn in_bf16(&self) -> Vec<Model> {
        simd::Isa::vector_sets()
            .into_iter()
            .filter(|isa| matches!(isa, simd::Isa::Amx | simd::Isa::Avx512Bf16))
            .map(|isa| self.on(isa))
            .collect()
    }

    /// This model in f32 on each path this CPU has: the direct AVX-512 kernels, the AVX2 one
    /// (its timbral layers through the DFT), and the GEMM path; [`Model::in_f32`] is one of
    /// them. For testing every f32 path wherever it runs.
    pub fn in_every_f32(&self) -> Vec<Model> {
        simd::Isa::vector_sets()
            .into_iter()
            .filter(|isa| matches!(isa, simd::Isa::Avx512 | simd::Isa::Avx2))
            .chain([simd::Isa::Fallback])
            .map(|isa| self.on(isa))
            .collect()
    }

    /// The network's parameters.
    pub fn weights(&self) -> &Weights {
        &self.core.weights
    }

    /// Runs one patch (see [`network::forward`]) with a workspace from the pool.
    pub fn forward(&self, patch: &[f32], embedding: &mut [f32], tags: &mut [f32]) {
        self.core.forward(patch, embedding, tags)
    }

    /// [`network::forward`] with this model's weights and kernels and the caller's workspace
    /// (no silence cache, nothing counted): for benchmarks.
    pub fn forward_with(
        &self,
        patch: &[f32],
        ws: &mut Workspace,
        embedding: &mut [f32],
        tags: &mut [f32],
    ) {
        self.core.forward_with(patch, ws, embedding, tags)
    }

    /// The instruction set the network's front end runs on: `avx512f+bf16` (products of
    /// bfloat16 pairs summed in f32, see [`Model::in_f32`]; the default only on CPUs where
    /// they are faster than f32 FMAs: AMD's), `amx-bf16` (bf16 products on AMX tiles, the
    /// default where the CPU has them), `avx512f`, `avx2+fma`, or `fallback` (the GEMM path,
    /// the `gemm` crate).
    pub fn isa(&self) -> &'static str {
        self.core
            .kernels
            .as_ref()
            .map_or("fallback", |k| k.isa().name())
    }

    /// The multiply-adds of one patch as this model runs them: [`MACS_PER_PATCH`], or less
    /// where the timbral layers go through the DFT (`avx2+fma`:
    /// [`network::SPECTRAL_TIMBRAL_MACS_PER_PATCH`] in place of their direct convolutions).
    pub fn macs_per_patch(&self) -> u64 {
        self.core
            .kernels
            .as_ref()
            .map_or(MACS_PER_PATCH, Kernels::macs_per_patch)
    }

    /// Patches this model has computed so far (silent and repeated patches reuse an output and
    /// are not counted), and the thread CPU time spent on them and on their log-mel input:
    /// `2 · macs_per_patch() · patches / seconds` is the embedding stage's arithmetic rate.
    pub fn computed(&self) -> (u64, Duration) {
        (
            self.core.computed.load(Ordering::Relaxed),
            Duration::from_nanos(self.core.cpu_ns.load(Ordering::Relaxed)),
        )
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }
}

impl Core {
    /// See [`Model::forward`].
    pub(crate) fn forward(&self, patch: &[f32], embedding: &mut [f32], tags: &mut [f32]) {
        // log10(1 + 10000·0) is exactly 0: an all-zero patch is silence, whose output is known.
        if patch.iter().all(|&x| x == 0.0) {
            let known = self.silence.get_or_init(|| {
                let mut out = vec![0.0; embedding.len() + tags.len()];
                let (e, t) = out.split_at_mut(embedding.len());
                self.forward_uncached(patch, e, t);
                out
            });
            let (e, t) = known.split_at(embedding.len());
            embedding.copy_from_slice(e);
            tags.copy_from_slice(t);
            return;
        }
        self.forward_uncached(patch, embedding, tags);
    }

    fn forward_uncached(&self, patch: &[f32], embedding: &mut [f32], tags: &mut [f32]) {
        let started = thread_cpu_time();
        let mut ws = self
            .workspaces
            .lock()
            .map(|mut pool| pool.pop())
            .unwrap_or(None)
            .unwrap_or_default();
        self.forward_with(patch, &mut ws, embedding, tags);
        if let Ok(mut pool) = self.workspaces.lock() {
            pool.push(ws);
        }
        self.computed.fetch_add(1, Ordering::Relaxed);
        self.add_cpu(thread_cpu_time().saturating_sub(started));
    }

    fn forward_with(
        &self,
        patch: &[f32],
        ws: &mut Workspace,
        embedding: &mut [f32],
        tags: &mut [f32],
    ) {
        network::forward(
            &self.weights,
            self.kernels.as_ref(),
            patch,
            ws,
            embedding,
            tags,
        );
    }

    /// Adds CPU time spent on the embedding outside a forward pass (the log-mel input).
    pub(crate) fn add_cpu(&self, spent: Duration) {
        let ns = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.cpu_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// Convenience for tests and tools: the default model's path in the source tree.
pub fn models_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
