"""``hsnet-deploy demo``: the deployment path in about a minute (see ``pipeline``).

    settings   the command's options, checked before any work
    model      the model to deploy: the shipped reference, a checkpoint, or random weights
    stream     one held-out support set and a stream of queries of its class
    passes     the timed onnxruntime stream and the torch reference pass
    scores     latency percentiles, mIoU / FB-IoU, torch-vs-ONNX agreement
    grid       the PNG of the first queries
    result     the JSON-ready result and the printed report
    pipeline   ``run_demo(settings)``; ``command`` the CLI
"""
