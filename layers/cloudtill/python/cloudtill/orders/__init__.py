"""Orders: the order lifecycle (one Step Functions execution per checkout), admin and shopper routes."""
