import onnxProto from "onnx-proto";
import type { onnx as OnnxTypes } from "onnx-proto";
import { InvariantError } from "../errors/KvLinkError.js";

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

/** Element types the graphs use, with their ONNX data type and bytes per element. */
export const ElemTypes = {
  float32: { dataType: DataType.FLOAT, bytes: 4 },
  float16: { dataType: DataType.FLOAT16, bytes: 2 },
  float64: { dataType: DataType.DOUBLE, bytes: 8 },
  int64: { dataType: DataType.INT64, bytes: 8 },
  int32: { dataType: DataType.INT32, bytes: 4 },
  uint8: { dataType: DataType.UINT8, bytes: 1 },
  bool: { dataType: DataType.BOOL, bytes: 1 },
} as const;
export type ElemType = keyof typeof ElemTypes;

/** A dimension: a fixed size or a symbolic name (e.g. "batch_size"). */
export type Dim = number | string;

/** A node attribute, tagged with its ONNX type so that `1` (int) and `1.0` (float) cannot be confused. */
export type AttrValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }
  /** A subgraph (e.g. an If branch), made by OnnxGraphBuilder#subgraph. */
  | { readonly graph: OnnxTypes.IGraphProto };

/** Typed-array views accepted as initializer data (their bytes are used as-is, little-endian). */
export type InitializerData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** The encoded model, and the weights file it refers to when initializers were written as external data. */
export interface BuiltModel {
  /** Serialized ModelProto (save as e.g. `model.onnx`). */
  readonly model: Uint8Array;
  /**
   * Present when the initializers were too large for one protobuf: write `chunks` in order, back to back, to
   * `fileName` next to the model file (or pass their concatenation to ORT's `externalData` session option).
   */
  readonly externalData?: {
    readonly fileName: string;
    readonly chunks: readonly Uint8Array[];
    readonly sizeBytes: number;
  };
}

export interface EncodeOptions {
  /** Total initializer bytes above which weights go to external data. Default 1.8e9 (protobuf caps at 2 GiB). */
  readonly externalDataThresholdBytes?: number;
  /** Name of the external data file. Default "model.onnx_data". */
  readonly externalDataFileName?: string;
}

interface Initializer {
  readonly name: string;
  readonly type: ElemType;
  readonly dims: readonly number[];
  readonly bytes: Uint8Array;
}

const DEFAULT_EXTERNAL_THRESHOLD_BYTES = 1.8e9;
/** Tensors smaller than this stay inside the protobuf even in external-data mode (as onnx's own saver does). */
const EXTERNAL_MIN_TENSOR_BYTES = 1024;
/** Offsets of external tensors are page-aligned so ORT can memory-map them. */
const EXTERNAL_ALIGNMENT = 4096;

/**
 * A small imperative writer of ONNX graphs on top of onnx-proto: add inputs, initializers and nodes, get
 * unique value names back, then `encode()` a ModelProto (opsets ai.onnx 23 and com.microsoft 1).
 */
export class OnnxGraphBuilder {
  readonly #name: string;
  readonly #docString: string;
  readonly #inputs: OnnxTypes.IValueInfoProto[] = [];
  readonly #outputs: OnnxTypes.IValueInfoProto[] = [];
  readonly #nodes: OnnxTypes.INodeProto[] = [];
  /** Where addNode puts nodes: the graph's own list, or a subgraph's while subgraph() builds one. */
  #nodeSink: OnnxTypes.INodeProto[] = this.#nodes;
  readonly #initializers: Initializer[] = [];
  /** Every name handed out by uniqueName() or declared (values and node names). */
  readonly #usedNames = new Set<string>();
  /** Values with a definition (input, initializer or node output): each may be defined once. */
  readonly #defined = new Set<string>();
  readonly #constCache = new Map<string, string>();
  #counter = 0;

  constructor(options: { readonly name: string; readonly docString?: string }) {
    this.#name = options.name;
    this.#docString = options.docString ?? "";
  }

  /** Declares a graph input and returns its name. */
  addInput(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.#define(name);
    this.#inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares a graph output. The value must be produced by some node under the same name. */
  addOutput(name: string, type: ElemType, dims: readonly Dim[]): void {
    this.#outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a constant tensor (weights, tables) and returns its name. The data's bytes are not copied. */
  addInitializer(name: string, type: ElemType, dims: readonly number[], data: InitializerData): string {
    const numElements = dims.reduce((a, b) => a * b, 1);
    const expectedBytes = numElements * ElemTypes[type].bytes;
    if (data.byteLength !== expectedBytes) {
      throw new InvariantError(
        `initializer "${name}": ${data.byteLength} bytes of data for ${type} [${dims.join(",")}], expected ${expectedBytes}`,
        { details: { name, dims, type, byteLength: data.byteLength } },
      );
    }
    this.#define(name);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#initializers.push({ name, type, dims: [...dims], bytes });
    return name;
  }

  /** An int64 constant (1-D, or a scalar when `scalar` is set), shared between uses. */
  constInt64(values: readonly number[], options: { readonly scalar?: boolean } = {}): string {
    const key = `i64:${options.scalar ? "s" : "v"}:${values.join(",")}`;
    const cached = this.#constCache.get(key);
    if (cached !== undefined) return cached;
    const dims = options.scalar ? [] : [values.length];
    const name = this.addInitializer(this.uniqueName("const_i64"), "int64", dims, BigInt64Array.from(values, BigInt));
    this.#constCache.set(key, name);
    return name;
  }

  /** A float32 scalar constant, shared between uses. */
  constFloat(value: number): string {
    const key = `f32:${Object.is(value, -0) ? "-0" : String(value)}`;
    const cached = this.#constCache.get(key);
    if (cached !== undefined) return cached;
    const name = this.addInitializer(this.uniqueName("const_f32"), "float32", [], Float32Array.of(value));
    this.#constCache.set(key, name);
    return name;
  }

  /**
   * Adds a node. `outputs` is either the explicit output names, or a count (names are then generated from
   * `name`). Use "" for an absent optional input or output. Returns the output names.
   */
  addNode(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number,
    options: { readonly attrs?: Readonly<Record<string, AttrValue>>; readonly domain?: string; readonly name?: string } = {},
  ): string[] {
    const nodeName = this.uniqueName(options.name ?? opType);
    const outputNames =
      typeof outputs === "number"
        ? Array.from({ length: outputs }, (_, k) => this.uniqueName(outputs === 1 ? `${nodeName}/out` : `${nodeName}/out${k}`))
        : [...outputs];
    for (const o of outputNames) if (o !== "") this.#define(o);
    this.#nodeSink.push({
      name: nodeName,
      opType,
      domain: options.domain ?? "",
      input: [...inputs],
      output: outputNames,
      attribute: Object.entries(options.attrs ?? {}).map(([k, v]) => attribute(k, v)),
    });
    return outputNames;
  }

  /** Adds a single-output node and returns its output name. */
  op(
    opType: string,
    inputs: readonly string[],
    options: { readonly attrs?: Readonly<Record<string, AttrValue>>; readonly domain?: string; readonly name?: string } = {},
  ): string {
    const [out] = this.addNode(opType, inputs, 1, options);
    if (out === undefined) throw new InvariantError(`node ${opType} produced no output name`);
    return out;
  }

  /**
   * Builds a subgraph with no inputs (an If branch): the nodes `build` adds go to the subgraph, which reads
   * values of the enclosing graph by name (ONNX outer scope); names, constants and initializers stay the main
   * graph's. `build` returns the values the subgraph outputs, with their types and dims.
   */
  subgraph(name: string, build: () => readonly { readonly name: string; readonly type: ElemType; readonly dims: readonly Dim[] }[]): AttrValue {
    const outer = this.#nodeSink;
    const nodes: OnnxTypes.INodeProto[] = [];
    this.#nodeSink = nodes;
    let outputs: readonly { readonly name: string; readonly type: ElemType; readonly dims: readonly Dim[] }[];
    try {
      outputs = build();
    } finally {
      this.#nodeSink = outer;
    }
    return { graph: { name: this.uniqueName(name), node: nodes, output: outputs.map((o) => valueInfo(o.name, o.type, o.dims)) } };
  }

  /** A fresh name derived from `base` (for a value defined later, e.g. as an explicit node output). */
  uniqueName(base: string): string {
    let name = base;
    while (this.#usedNames.has(name)) name = `${base}_${++this.#counter}`;
    this.#usedNames.add(name);
    return name;
  }

  /** Total bytes of all initializers. */
  get initializerBytes(): number {
    return this.#initializers.reduce((n, t) => n + t.bytes.byteLength, 0);
  }

  /** Serializes the model; initializers go to external data when their total exceeds the threshold. */
  encode(options: EncodeOptions = {}): BuiltModel {
    const threshold = options.externalDataThresholdBytes ?? DEFAULT_EXTERNAL_THRESHOLD_BYTES;
    const fileName = options.externalDataFileName ?? "model.onnx_data";
    const useExternal = this.initializerBytes > threshold;
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const initializer = this.#initializers.map((t): OnnxTypes.ITensorProto => {
      const base = { name: t.name, dataType: ElemTypes[t.type].dataType, dims: [...t.dims] };
      if (!useExternal || t.bytes.byteLength < EXTERNAL_MIN_TENSOR_BYTES) return { ...base, rawData: t.bytes };
      const padding = (EXTERNAL_ALIGNMENT - (offset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
      if (padding > 0) {
        chunks.push(new Uint8Array(padding));
        offset += padding;
      }
      chunks.push(t.bytes);
      const entry = {
        ...base,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: fileName },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(t.bytes.byteLength) },
        ],
      };
      offset += t.bytes.byteLength;
      return entry;
    });
    const model: OnnxTypes.IModelProto = {
      irVersion: 11, // ONNX 1.18: the IR that introduced opset 23
      producerName: "kvlink-ts",
      producerVersion: "0.1.0",
      // Also on the model (field 6, before the graph), where graph/graphSpecStamp.ts reads it back cheaply.
      docString: this.#docString,
      opsetImport: [
        { domain: "", version: 23 },
        { domain: "com.microsoft", version: 1 },
      ],
      graph: {
        name: this.#name,
        docString: this.#docString,
        input: this.#inputs,
        output: this.#outputs,
        node: this.#nodes,
        initializer,
      },
    };
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
    return useExternal ? { model: bytes, externalData: { fileName, chunks, sizeBytes: offset } } : { model: bytes };
  }

  #define(name: string): void {
    if (this.#defined.has(name)) throw new InvariantError(`ONNX value "${name}" defined twice in graph ${this.#name}`);
    this.#defined.add(name);
    this.#usedNames.add(name);
  }
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ElemTypes[type].dataType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  if ("int" in v) return { name, type: AttrType.INT, i: v.int };
  if ("float" in v) return { name, type: AttrType.FLOAT, f: v.float };
  if ("ints" in v) return { name, type: AttrType.INTS, ints: [...v.ints] };
  if ("floats" in v) return { name, type: AttrType.FLOATS, floats: [...v.floats] };
  if ("graph" in v) return { name, type: AttrType.GRAPH, g: v.graph };
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(v.string) };
}
