"""The payment gate (regulation 3.3, 5): payment and credit requests, approval by accounting
(the chief accountant above the threshold), nothing confirmed or shipped before it."""
