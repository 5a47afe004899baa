"""Process plumbing: public IP discovery on Fargate and the HTTP health endpoint."""
