//! musicnn's trained parameters, read from the safetensors file `scripts/export_musicnn.py` wrote.

use std::borrow::Cow;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// Batch normalisation at inference, folded into `y = x · scale + shift` per channel
/// (`scale = γ / √(σ² + 1e-3)`, `shift = β − μ · scale`; TF's default epsilon is 1e-3).
#[derive(Clone, Debug)]
pub struct BatchNorm {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

/// A convolution or dense layer: `kernel` is row-major `(taps) × out` (TF's HWIO layout with
/// the input dimensions flattened), `bias` has `out` entries.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Read in place from the models compiled into the binary (see
    /// [`Weights::from_static_safetensors`]), a copy otherwise.
    pub kernel: Cow<'static, [f32]>,
    pub bias: Vec<f32>,
    /// Kernel height (time taps) and width (frequency or channel taps).
    pub shape: [usize; 2],
    pub out: usize,
}

/// Every parameter of one musicnn network (MSD or MTT: same architecture).
#[derive(Clone, Debug)]
pub struct Weights {
    /// Scalar normalisation of the log-mel input.
    pub input_bn: BatchNorm,
    /// Timbral front end: kernels 7×38 and 7×67 over (time, mel), 204 filters each.
    pub timbral: [(Layer, BatchNorm); 2],
    /// Temporal front end: kernels 128×1, 64×1, 32×1 over time, 51 filters each.
    pub temporal: [(Layer, BatchNorm); 3],
    /// Mid end: three 7-tap 1-D convolutions of 64 filters (over 561, 64 and 64 channels).
    pub midend: [(Layer, BatchNorm); 3],
    /// Normalisation of the pooled 1506 values before the penultimate dense layer.
    pub pool_bn: BatchNorm,
    /// Dense 1506 → 200, followed by ReLU and `penultimate_bn`.
    pub penultimate: Layer,
    pub penultimate_bn: BatchNorm,
    /// Dense 200 → tags (logits; the tag probabilities are their sigmoid).
    pub tags: Layer,
}

/// Why a weights file could not be used.
#[derive(Debug)]
pub struct WeightsError(pub String);

impl std::fmt::Display for WeightsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "musicnn weights: {}", self.0)
    }
}

impl std::error::Error for WeightsError {}

/// The `f32` tensor `name` of a safetensors file, checked to have exactly `shape`; the error
/// names the tensor and what was found instead.
pub(crate) fn f32_tensor(
    file: &SafeTensors,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>, String> {
    checked_tensor(file, name, shape).map(|t| le_f32s(t.data()))
}

fn checked_tensor<'data>(
    file: &SafeTensors<'data>,
    name: &str,
    shape: &[usize],
) -> Result<TensorView<'data>, String> {
    let t = file
        .tensor(name)
        .map_err(|_| format!("missing tensor {name}"))?;
    if t.dtype() != Dtype::F32 || t.shape() != shape {
        return Err(format!(
            "{name}: expected f32 {shape:?}, found {:?} {:?}",
            t.dtype(),
            t.shape()
        ));
    }
    Ok(t)
}

fn le_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The tensor's values where they lie, if their bytes are aligned `f32`s in this CPU's order.
fn in_place(bytes: &'static [u8]) -> Cow<'static, [f32]> {
    match bytemuck::try_cast_slice(bytes) {
        Ok(values) if cfg!(target_endian = "little") => Cow::Borrowed(values),
        _ => Cow::Owned(le_f32s(bytes)),
    }
}

impl Weights {
    /// Reads the weights from the bytes of a safetensors file. Checks every shape the
    /// forward pass relies on, so a wrong file fails here and never inside the network.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WeightsError> {
        Self::read(bytes, |t| Cow::Owned(le_f32s(t.data())))
    }

    /// [`Weights::from_safetensors`] for bytes that live as long as the program (the models
    /// compiled into it): the layers' kernels are read where they lie when they are aligned,
    /// instead of a copy of 3 MB on the heap beside the pages of the binary that hold them.
    pub fn from_static_safetensors(bytes: &'static [u8]) -> Result<Self, WeightsError> {
        Self::read(bytes, |t| in_place(t.data()))
    }

    fn read<'data>(
        bytes: &'data [u8],
        kernel_values: impl Fn(TensorView<'data>) -> Cow<'static, [f32]>,
    ) -> Result<Self, WeightsError> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError(e.to_string()))?;
        let tensor =
            |name: &str, shape: &[usize]| f32_tensor(&file, name, shape).map_err(WeightsError);
        let kernel = |name: &str, shape: &[usize]| {
            checked_tensor(&file, name, shape)
                .map(&kernel_values)
                .map_err(WeightsError)
        };
        let bn = |index: usize, channels: usize| -> Result<BatchNorm, WeightsError> {
            let prefix = match index {
                0 => "batch_normalization".to_string(),
                i => format!("batch_normalization_{i}"),
            };
            let gamma = tensor(&format!("{prefix}/gamma"), &[channels])?;
            let beta = tensor(&format!("{prefix}/beta"), &[channels])?;
            let mean = tensor(&format!("{prefix}/moving_mean"), &[channels])?;
            let var = tensor(&format!("{prefix}/moving_variance"), &[channels])?;
            let scale: Vec<f32> = gamma
                .iter()
                .zip(&var)
                .map(|(g, v)| g / (v + 1e-3).sqrt())
                .collect();
            let shift = beta
                .iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((b, m), s)| b - m * s)
                .collect();
            Ok(BatchNorm { scale, shift })
        };
        let conv = |index: usize, h: usize, w: usize, out: usize| -> Result<Layer, WeightsError> {
            let prefix = match index {
                0 => "conv2d".to_string(),
                i => format!("conv2d_{i}"),
            };
            Ok(Layer {
                kernel: kernel(&format!("{prefix}/kernel"), &[h, w, 1, out])?,
                bias: tensor(&format!("{prefix}/bias"), &[out])?,
                shape: [h, w],
                out,
            })
        };
        let dense = |name: &str, inputs: usize, out: usize| -> Result<Layer, WeightsError> {
            Ok(Layer {
                kernel: kernel(&format!("{name}/kernel"), &[inputs, out])?,
                bias: tensor(&format!("{name}/bias"), &[out])?,
                shape: [1, inputs],
                out,
            })
        };
        // Layer numbering follows the order in which musicnn's graph creates them.
        Ok(Weights {
            input_bn: bn(0, 1)?,
            timbral: [
                (conv(0, 7, 38, 204)?, bn(1, 204)?),
                (conv(1, 7, 67, 204)?, bn(2, 204)?),
            ],
            temporal: [
                (conv(2, 128, 1, 51)?, bn(3, 51)?),
                (conv(3, 64, 1, 51)?, bn(4, 51)?),
                (conv(4, 32, 1, 51)?, bn(5, 51)?),
            ],
            midend: [
                (conv(5, 7, 561, 64)?, bn(6, 64)?),
                (conv(6, 7, 64, 64)?, bn(7, 64)?),
                (conv(7, 7, 64, 64)?, bn(8, 64)?),
            ],
            pool_bn: bn(9, 1506)?,
            penultimate: dense("dense", 1506, 200)?,
            penultimate_bn: bn(10, 200)?,
            tags: dense("dense_1", 200, 50)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::{models_dir, Model, ModelChoice};

    #[test]
    fn compiled_in_kernels_are_read_in_place_and_match_a_copy() {
        let model = Model::load(&ModelChoice::Msd).unwrap();
        let bytes = std::fs::read(models_dir().join("msd_musicnn.safetensors")).unwrap();
        let copied = Weights::from_safetensors(&bytes).unwrap();
        let in_binary = model.weights();
        let pairs = [
            (&in_binary.timbral[0].0, &copied.timbral[0].0),
            (&in_binary.temporal[2].0, &copied.temporal[2].0),
            (&in_binary.midend[0].0, &copied.midend[0].0),
            (&in_binary.penultimate, &copied.penultimate),
            (&in_binary.tags, &copied.tags),
        ];
        for (in_place, copy) in pairs {
            assert!(matches!(in_place.kernel, Cow::Borrowed(_)));
            assert!(matches!(copy.kernel, Cow::Owned(_)));
            assert_eq!(in_place.kernel, copy.kernel);
            assert_eq!(in_place.bias, copy.bias);
        }
    }
}
