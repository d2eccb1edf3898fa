"""pixels → Embedding(vector, peaks): the R-MAC model run with onnxruntime."""
