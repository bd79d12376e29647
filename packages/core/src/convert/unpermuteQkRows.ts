import { InvalidInputError } from "../errors/KvLinkError.js";

/**
 * Undoes llama.cpp's q/k row permutation (convert_hf_to_gguf.py `LlamaModel.permute`): per head of
 * `rowsPerHead` rows, HF_row[h·hd + j·hd/2 + i] = GGUF_row[h·hd + 2i + j] (i < hd/2, j ∈ {0, 1}). This turns
 * llama.cpp's adjacent-pair RoPE layout back into HF's half-split layout. Rows are opaque byte runs of
 * `rowBytes` each, so raw quantized rows (whole blocks) can be moved without dequantizing.
 */
export function unpermuteQkRows(bytes: Uint8Array, numRows: number, numHeads: number, where = "tensor"): Uint8Array {
  if (numRows % numHeads !== 0 || (numRows / numHeads) % 2 !== 0 || bytes.byteLength % numRows !== 0) {
    throw new InvalidInputError(
      `${where}: cannot un-permute ${numRows} rows (${bytes.byteLength} bytes) into ${numHeads} heads of an even number of whole rows`,
      { details: { where, numRows, numHeads, byteLength: bytes.byteLength } },
    );
  }
  const rowBytes = bytes.byteLength / numRows;
  const headDim = numRows / numHeads;
  const half = headDim / 2;
  const out = new Uint8Array(bytes.byteLength);
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * headDim + 2 * i + j) * rowBytes;
        const dst = (h * headDim + j * half + i) * rowBytes;
        out.set(bytes.subarray(src, src + rowBytes), dst);
      }
    }
  }
  return out;
}
