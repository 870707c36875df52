-- Every economy of marts.peer_panel in $year (economies only: the view leaves aggregates out), $reporter first,
-- then by name: IP charges, digitally-deliverable services (with the share of the world's) and the OECD's
-- technology balance of payments, each its own measure, with their sources; null where not published.
select reporter, economy, ip_balance_usd, ip_source_id, ip_definition, dds_balance_usd,
    dds_world_export_share_pct, dds_world_import_share_pct, dds_source_id, tbp_balance_usd, tbp_source_id,
    is_any_side_derived
from marts.peer_panel
where year = $year
order by reporter = $reporter desc, economy, reporter
