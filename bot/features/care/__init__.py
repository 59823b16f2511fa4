"""The customer care program (seed 002): products, orders, care schedules and logs,
assignments, the morning reminder, the /api for orders and products."""
