-- grain: one row per economy x year (economies only: no world or regional aggregate, no sub-national group)
-- China against its peers, year by year, on three measures of technology trade that are never combined:
-- charges for the use of intellectual property (WDI, balance of payments), digitally-deliverable services
-- (UNCTAD, balance of payments) with each economy's share of the world's, and the technology balance of
-- payments where the OECD publishes it (MSTI; not for China). Latest vintage of each; every economy the
-- shipped sources hold (the WDI extracts hold CHN, USA, JPN, KOR, DEU, HKG and IND; UNCTAD's every economy).
create or replace view marts.peer_panel as
with

balances as (
    select * from marts.trade_balance_vintages
    where is_latest_vintage and partner = 'WLD' and period_type = 'year'
),

economies as (
    select iso3, name,
    from core.dim_country
    where not is_aggregate and coalesce(parent_iso3, '') = ''
),

ip_charges as (
    select * from balances
    where classification = 'bop' and category = 'ip_charges' and measure = 'bop_value'
),

ip_definitions as (
    -- the definition the IP charges were compiled under (marts.trade_balance_vintages does not carry it)
    select distinct source_id, vintage, reporter, year, definition,
    from core.fct_trade_figure
    where classification = 'bop' and category = 'ip_charges' and measure = 'bop_value' and is_latest_vintage
),

digital_services as (
    select * from balances
    where classification = 'bop' and category = 'digitally_deliverable_services' and measure = 'bop_value'
),

digital_services_world as (
    -- the world's own total as the publisher prints it (exports and imports of the world differ: asymmetries)
    select source_id, vintage, year, exports as world_exports, imports as world_imports,
    from digital_services
    where reporter = 'WLD'
),

technology_bop as (
    select * from balances
    where classification = 'technology_bop' and category = 'technology' and measure = 'technology_bop_value'
),

panel_keys as (
    select reporter, year from ip_charges
    union
    select reporter, year from digital_services
    union
    select reporter, year from technology_bop
),

final as (
    select
        -- ids
        panel_keys.reporter,
        economies.name as economy,
        panel_keys.year,
        periods.period_start,
        periods.period_end,
        panel_keys.reporter = 'CHN' as is_china,
        -- charges for the use of intellectual property (balance of payments)
        ip_charges.exports as ip_receipts_usd,
        ip_charges.imports as ip_payments_usd,
        ip_charges.balance as ip_balance_usd,
        ip_charges.source_id as ip_source_id,
        ip_charges.vintage as ip_vintage,
        ip_definitions.definition as ip_definition,
        -- digitally-deliverable services (balance of payments)
        digital_services.exports as dds_exports_usd,
        digital_services.imports as dds_imports_usd,
        digital_services.balance as dds_balance_usd,
        round(100 * digital_services.exports / nullif(dds_world.world_exports, 0), 4) as dds_world_export_share_pct,
        round(100 * digital_services.imports / nullif(dds_world.world_imports, 0), 4) as dds_world_import_share_pct,
        digital_services.source_id as dds_source_id,
        digital_services.vintage as dds_vintage,
        -- technology balance of payments (OECD MSTI)
        technology_bop.exports as tbp_receipts_usd,
        technology_bop.imports as tbp_payments_usd,
        technology_bop.balance as tbp_balance_usd,
        technology_bop.source_id as tbp_source_id,
        technology_bop.vintage as tbp_vintage,
        -- reported or derived
        coalesce(
            ip_charges.is_exports_derived or ip_charges.is_imports_derived
            or digital_services.is_exports_derived or digital_services.is_imports_derived
            or technology_bop.is_exports_derived or technology_bop.is_imports_derived,
            false
        ) as is_any_side_derived,
    from panel_keys
    inner join economies on economies.iso3 = panel_keys.reporter
    left join core.dim_period as periods on periods.period = cast(panel_keys.year as varchar)
    left join ip_charges on ip_charges.reporter = panel_keys.reporter and ip_charges.year = panel_keys.year
    left join digital_services
        on digital_services.reporter = panel_keys.reporter and digital_services.year = panel_keys.year
    left join digital_services_world as dds_world
        on dds_world.source_id = digital_services.source_id
        and dds_world.vintage = digital_services.vintage
        and dds_world.year = digital_services.year
    left join technology_bop on technology_bop.reporter = panel_keys.reporter and technology_bop.year = panel_keys.year
    left join ip_definitions
        on ip_definitions.source_id = ip_charges.source_id
        and ip_definitions.vintage = ip_charges.vintage
        and ip_definitions.reporter = ip_charges.reporter
        and ip_definitions.year = ip_charges.year
    order by panel_keys.year, panel_keys.reporter
)

select * from final;

comment on view marts.peer_panel is 'China against its peers, one row per economy and year (economies only: world, regional and sub-national rows left out), latest vintage: charges for the use of intellectual property (WDI), digitally-deliverable services with the economy''s share of the world''s (UNCTAD) and the technology balance of payments (OECD MSTI, where published: not for China), side by side and never combined: each is its own measure.';
comment on column marts.peer_panel.reporter is 'Economy (core.dim_country.iso3; no aggregates)';
comment on column marts.peer_panel.economy is 'Name of the economy';
comment on column marts.peer_panel.year is 'Calendar year';
comment on column marts.peer_panel.period_start is 'First day of year (core.dim_period): 2011 -> 2011-01-01; for time axes';
comment on column marts.peer_panel.period_end is 'Last day of year (core.dim_period): 2011 -> 2011-12-31';
comment on column marts.peer_panel.is_china is 'True for China, the economy the panel compares';
comment on column marts.peer_panel.ip_receipts_usd is 'Charges for the use of intellectual property, receipts (balance of payments), USD to the cent; null if not published';
comment on column marts.peer_panel.ip_payments_usd is 'Charges for the use of intellectual property, payments (balance of payments), USD to the cent; null if not published';
comment on column marts.peer_panel.ip_balance_usd is 'ip_receipts_usd - ip_payments_usd (negative: a deficit); null if either is missing';
comment on column marts.peer_panel.ip_source_id is 'Source of the IP charges (the latest vintage that holds them)';
comment on column marts.peer_panel.ip_vintage is 'Vintage of the IP charges';
comment on column marts.peer_panel.ip_definition is 'Definition of the IP charges (BPM6 in the current WDI; BPM5 where only the December 2013 release holds the year)';
comment on column marts.peer_panel.dds_exports_usd is 'Exports of digitally-deliverable services (UNCTAD, balance of payments), USD to the cent';
comment on column marts.peer_panel.dds_imports_usd is 'Imports of digitally-deliverable services (UNCTAD, balance of payments), USD to the cent';
comment on column marts.peer_panel.dds_balance_usd is 'dds_exports_usd - dds_imports_usd (negative: a deficit); null if either is missing';
comment on column marts.peer_panel.dds_world_export_share_pct is 'dds_exports_usd as a percentage of the world''s exports of digitally-deliverable services as UNCTAD prints them (same source, vintage and year), rounded to 0.0001';
comment on column marts.peer_panel.dds_world_import_share_pct is 'dds_imports_usd as a percentage of the world''s imports as UNCTAD prints them (world exports and imports differ: reporting asymmetries), rounded to 0.0001';
comment on column marts.peer_panel.dds_source_id is 'Source of the digitally-deliverable services figures';
comment on column marts.peer_panel.dds_vintage is 'Vintage of the digitally-deliverable services figures';
comment on column marts.peer_panel.tbp_receipts_usd is 'Technology balance of payments, receipts (OECD MSTI), USD to the cent; null where the OECD does not publish it (China, India, Hong Kong)';
comment on column marts.peer_panel.tbp_payments_usd is 'Technology balance of payments, payments (OECD MSTI), USD to the cent';
comment on column marts.peer_panel.tbp_balance_usd is 'tbp_receipts_usd - tbp_payments_usd (negative: a deficit); null if either is missing';
comment on column marts.peer_panel.tbp_source_id is 'Source of the technology balance of payments';
comment on column marts.peer_panel.tbp_vintage is 'Vintage of the technology balance of payments';
comment on column marts.peer_panel.is_any_side_derived is 'True when any receipts, payments, exports or imports of the row was derived rather than printed (marts.trade_balance_vintages.derivation)';
