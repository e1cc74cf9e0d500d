"""The three arms of the trial: ``legacy``, ``pgboss`` and ``inngest``, each in its own schema."""
