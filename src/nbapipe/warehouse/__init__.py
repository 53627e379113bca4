"""The DuckDB warehouse. Nothing outside this package opens a DuckDB connection."""
from nbapipe.warehouse.connection import Warehouse, WarehouseBusy, WarehouseError, open_warehouse
from nbapipe.warehouse.schema import ensure_schema, table_keys, schema_version

__all__ = ["Warehouse", "WarehouseBusy", "WarehouseError", "open_warehouse", "ensure_schema", "table_keys",
           "schema_version"]
