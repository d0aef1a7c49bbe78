//! Vectors as SQLite blobs: float32, little-endian, no header (the `dim` column says the length).
//!
//! Little-endian on every machine, so a catalog copied between hosts reads the same; NumPy reads a
//! blob with `np.frombuffer(blob, dtype='<f4')`.

/// Encodes `vector` as `4 × len` bytes.
pub fn vector_to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Decodes a blob written by [`vector_to_blob`]; trailing bytes short of a value are ignored.
pub fn blob_to_vector(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / 4);
    extend_from_blob(&mut out, bytes);
    out
}

/// Appends the values of a blob to `out` (one contiguous matrix for many rows).
pub(crate) fn extend_from_blob(out: &mut Vec<f32>, bytes: &[u8]) {
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
    );
}
