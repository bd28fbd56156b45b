"""Stock administration: stock levels, the movement ledger, FIFO valuation, low-stock alerts and
reconciliation of reserved units against held reservations. See docs/stock.md."""
