"""The evaluation harness (`voice-agent eval SUITE.yaml`): many calls, scored against what each
caller meant, summed into metrics, held against the suite's thresholds. docs/eval.md."""
