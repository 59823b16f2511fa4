"""The policy guard (3.3): promises only accounting or the head may make, said by someone else."""
