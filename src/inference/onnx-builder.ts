import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX IR version 8 is the newest that the onnx-proto 8 schema (ONNX 1.10) describes. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

/** A node attribute, tagged with its ONNX attribute type. */
export type AttributeValue =
  | { int: number }
  | { ints: readonly number[] }
  | { float: number }
  | { floats: readonly number[] }
  | { string: string };

export interface ModelOptions {
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata?: Record<string, string>;
}

function floatBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return bytes;
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setBigInt64(i * 8, BigInt(value), true));
  return bytes;
}

function tensorType(shape: readonly number[]): onnxProto.onnx.ITypeProto {
  return {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: shape.map((dimValue) => ({ dimValue })) },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const types = onnx.AttributeProto.AttributeType;
  if ('int' in value) return { name, type: types.INT, i: value.int };
  if ('ints' in value) return { name, type: types.INTS, ints: [...value.ints] };
  if ('float' in value) return { name, type: types.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: types.FLOATS, floats: [...value.floats] };
  return { name, type: types.STRING, s: new TextEncoder().encode(value.string) };
}

/**
 * Builds one ONNX graph (float32 inputs and outputs, float32 and int64 initialisers) and encodes
 * it as a ModelProto. Node and tensor names are generated in call order, so the same calls give
 * byte-identical models.
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly graphName: string) {}

  /** Declares a float32 graph input and returns its tensor name. */
  input(name: string, shape: readonly number[]): string {
    this.inputs.push({ name, type: tensorType(shape) });
    return name;
  }

  /** Declares `tensor` as a float32 graph output named `name`. */
  output(tensor: string, name: string, shape: readonly number[]): void {
    this.node('Identity', [tensor], {}, name);
    this.outputs.push({ name, type: tensorType(shape) });
  }

  /** Adds a float32 initialiser and returns its tensor name. */
  floats(label: string, values: ArrayLike<number>, dims: readonly number[]): string {
    const name = this.freshName(label);
    const dataType = onnx.TensorProto.DataType.FLOAT;
    this.initializers.push({ name, dims: [...dims], dataType, rawData: floatBytes(values) });
    return name;
  }

  /** Adds a float32 scalar initialiser and returns its tensor name. */
  scalar(label: string, value: number): string {
    return this.floats(label, [value], []);
  }

  /** Adds a 1-D int64 initialiser, as Slice, Reshape, ReduceSum and Unsqueeze take, and returns its name. */
  int64s(label: string, values: readonly number[]): string {
    const name = this.freshName(label);
    const dataType = onnx.TensorProto.DataType.INT64;
    this.initializers.push({ name, dims: [values.length], dataType, rawData: int64Bytes(values) });
    return name;
  }

  /** Appends a node from the default ONNX domain and returns the name of its output. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputName?: string,
  ): string {
    const output = outputName ?? this.freshName(opType.toLowerCase());
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return output;
  }

  /** Encodes the graph as a ModelProto with IR version 8 and opset 17. */
  encode(options: ModelOptions): Uint8Array {
    const metadata = Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value }));
    const model: onnxProto.onnx.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: options.producerName,
      producerVersion: options.producerVersion,
      docString: options.docString,
      metadataProps: metadata,
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }

  private freshName(label: string): string {
    this.counter += 1;
    return `${label}_${this.counter}`;
  }
}
