"""The FBB inventory stream: the stock bol holds per EAN (``bol.inventory``) and a snapshot per Dutch day
(``bol.inventory_snapshots``); see ``inventory.spec`` and the DAG ``bol_inventory_daily``."""
