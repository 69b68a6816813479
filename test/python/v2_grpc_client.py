"""A stock Open Inference Protocol gRPC client (grpcio and stubs compiled by grpc_tools.protoc), not Ferry's code.

Usage: v2_grpc_client.py STUBS_DIR TARGET < {"rows": [[18 floats], ...]}
Calls every RPC of inference.GRPCInferenceService against Ferry's gateway and prints what came back as JSON.
"""
import json
import struct
import sys
from array import array

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import grpc_service_pb2 as pb  # noqa: E402
import grpc_service_pb2_grpc as pb_grpc  # noqa: E402

target = sys.argv[2]
rows = json.load(sys.stdin)["rows"]
flat = [x for row in rows for x in row]
shape = [len(rows), len(rows[0])]
stub = pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(target))
out = {}

out["live"] = stub.ServerLive(pb.ServerLiveRequest()).live
out["ready"] = stub.ServerReady(pb.ServerReadyRequest()).ready
meta = stub.ServerMetadata(pb.ServerMetadataRequest())
out["server"] = {"name": meta.name, "version": meta.version, "extensions": list(meta.extensions)}
out["model_ready"] = stub.ModelReady(pb.ModelReadyRequest(name="edge-houseprice")).ready
model = stub.ModelMetadata(pb.ModelMetadataRequest(name="edge-houseprice"))
out["model"] = {
    "name": model.name, "versions": list(model.versions), "platform": model.platform,
    "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in model.inputs],
    "outputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in model.outputs],
}

# Typed contents in, typed contents out.
req = pb.ModelInferRequest(model_name="edge-houseprice", id="py-typed")
tensor = req.inputs.add(name="tensor", datatype="FP32", shape=shape)
tensor.contents.fp32_contents.extend(flat)
res = stub.ModelInfer(req, metadata=[("ferry-request-id", "py-typed-request")])
o = res.outputs[0]
out["typed"] = {"id": res.id, "model_name": res.model_name, "model_version": res.model_version, "name": o.name,
                "datatype": o.datatype, "shape": list(o.shape), "values": list(o.contents.fp32_contents),
                "raw_count": len(res.raw_output_contents)}

# Raw little-endian FP32 in (struct), raw out (array); the two-step pipeline answers INT64 raw too.
req = pb.ModelInferRequest(model_name="edge-houseprice", inputs=[pb.ModelInferRequest.InferInputTensor(name="tensor", datatype="FP32", shape=shape)])
req.raw_input_contents.append(struct.pack("<%df" % len(flat), *flat))
res = stub.ModelInfer(req)
values = array("f", res.raw_output_contents[0])
if sys.byteorder == "big":
    values.byteswap()
out["raw"] = {"datatype": res.outputs[0].datatype, "shape": list(res.outputs[0].shape), "values": values.tolist(),
              "typed_count": len(res.outputs[0].contents.fp32_contents)}
req.model_name = "edge-houseprice-bucketed"
res = stub.ModelInfer(req)
buckets = array("q", res.raw_output_contents[0])
if sys.byteorder == "big":
    buckets.byteswap()
out["bucketed_raw"] = {"datatype": res.outputs[0].datatype, "shape": list(res.outputs[0].shape), "values": buckets.tolist()}

# A refusal: the status code and Ferry's code in the trailing metadata.
try:
    stub.ModelInfer(pb.ModelInferRequest(model_name="no-such-model"))
    out["unknown"] = None
except grpc.RpcError as e:
    out["unknown"] = {"code": e.code().name, "ferry_code": dict(e.trailing_metadata() or ()).get("ferry-code")}

print(json.dumps(out))
