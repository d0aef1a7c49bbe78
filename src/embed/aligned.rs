//! Weights on cache-line boundaries: the packed kernels, and the models compiled into the
//! binary.
//!
//! A kernel reads its packed weights 64 bytes at a time: an AMX tile row, or an AVX-512
//! vector. Where the packing starts off a line, nearly every such read straddles two cache
//! lines and costs two. On the Xeon measured (family 6, model 207), aligning the AMX tiles'
//! weights made the default pipeline's CPU time on a 954 s MP3 0.81 of what it was.

use std::marker::PhantomData;
use std::ops::Deref;

/// Bytes that start a cache line, for data compiled into the binary (`include_bytes!`), so
/// that the `f32` tensors among them can be read in place.
#[repr(C, align(64))]
pub struct Aligned<Bytes: ?Sized>(pub Bytes);

/// One cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

// SAFETY: 64 bytes and nothing else (the alignment adds no padding), any bit pattern valid.
unsafe impl bytemuck::Zeroable for Line {}
unsafe impl bytemuck::Pod for Line {}

/// A copy of some values whose first value starts a cache line.
#[derive(Clone)]
pub struct CacheAligned<T> {
    lines: Vec<Line>,
    len: usize,
    values: PhantomData<T>,
}

impl<T: bytemuck::Pod> CacheAligned<T> {
    pub fn new(values: &[T]) -> Self {
        let bytes: &[u8] = bytemuck::cast_slice(values);
        let mut lines = vec![Line([0; 64]); bytes.len().div_ceil(64)];
        bytemuck::cast_slice_mut::<Line, u8>(&mut lines)[..bytes.len()].copy_from_slice(bytes);
        CacheAligned {
            lines,
            len: values.len(),
            values: PhantomData,
        }
    }
}

impl<T: bytemuck::Pod> Deref for CacheAligned<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &bytemuck::cast_slice(&self.lines)[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the attribute, the compiled-in models could still land on a 4-byte boundary
    /// by chance (they did, checked), and their kernels would be read in place until a build
    /// that moved them: this holds it whatever the linker does.
    #[test]
    fn compiled_in_bytes_start_a_line() {
        assert_eq!(std::mem::align_of::<Aligned<[u8; 3]>>(), 64);
        static BYTES: &Aligned<[u8]> = &Aligned([1, 2, 3]);
        assert_eq!(BYTES.0.as_ptr() as usize % 64, 0);
        for model in [super::super::MSD_SAFETENSORS, super::super::MTT_SAFETENSORS] {
            assert_eq!(model.0.as_ptr() as usize % 64, 0);
        }
    }

    #[test]
    fn the_copy_starts_a_line_and_holds_the_values() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let values: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let aligned = CacheAligned::new(&values);
            assert_eq!(&*aligned, &values[..]);
            assert_eq!(aligned.as_ptr() as usize % 64, 0);
            let halves: Vec<u16> = (0..len as u16).collect();
            assert_eq!(&*CacheAligned::new(&halves), &halves[..]);
        }
    }
}
