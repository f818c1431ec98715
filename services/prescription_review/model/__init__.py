"""The pure domain of prescription review: prescriptions, findings, knowledge and the engine."""
