import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** onnxruntime's names for the ONNX TensorProto element types that onnx-proto 8 defines. */
const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

/** A graph input or output; a dimension is a number, a symbolic name, or "?" when unset. */
export interface GraphTensor {
  name: string;
  dtype: string;
  dims: (number | string)[];
}

export interface OnnxModelInfo {
  irVersion: number;
  /** Version of the default (ai.onnx) operator set, or null when the model imports none. */
  opset: number | null;
  /** Graph inputs that are fed at run time; initialisers listed as inputs are left out. */
  inputs: GraphTensor[];
  outputs: GraphTensor[];
}

function dimension(dim: onnxProto.onnx.TensorShapeProto.IDimension): number | string {
  if (dim.dimParam) return dim.dimParam;
  if (dim.dimValue !== null && dim.dimValue !== undefined) return Number(dim.dimValue);
  return '?';
}

function graphTensor(value: onnxProto.onnx.IValueInfoProto): GraphTensor {
  const tensorType = value.type?.tensorType;
  const elemType = tensorType?.elemType ?? 0;
  return {
    name: value.name ?? '',
    dtype: tensorType ? (ELEMENT_TYPES[elemType] ?? `element type ${elemType}`) : 'not a tensor',
    dims: (tensorType?.shape?.dim ?? []).map(dimension),
  };
}

/** Decodes an ONNX model's IR version, default opset and graph inputs and outputs. */
export function inspectOnnxModel(bytes: Uint8Array): OnnxModelInfo {
  const model = onnx.ModelProto.decode(bytes);
  if (!model.graph) throw new Error('the file contains no ONNX graph');
  const defaultOpset = model.opsetImport.find(
    (opset) => !opset.domain || opset.domain === 'ai.onnx',
  );
  const { initializer = [], input = [], output = [] } = model.graph;
  const initialisers = new Set((initializer ?? []).map((tensor) => tensor.name));
  return {
    irVersion: Number(model.irVersion),
    opset: defaultOpset ? Number(defaultOpset.version) : null,
    inputs: (input ?? []).filter((value) => !initialisers.has(value.name)).map(graphTensor),
    outputs: (output ?? []).map(graphTensor),
  };
}

export function formatDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}
