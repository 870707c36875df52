-- grain: one row per reference period (as published in core.fct_trade_figure, and each calendar year of a figure)
-- The calendar dates a period covers, for time axes: a year (2011), a month (2011-05 or 201105), a quarter
-- (2011-Q2) or months of one year (2012-01..10, year to date). The one place a period's text is read as dates:
-- the marts join it on period (or on a calendar year as text). A period in no such form has null dates.
-- materialized: table
create or replace view core.dim_period as
with

periods as (
    select period from core.fct_trade_figure
    union
    select cast(year as varchar) as period from core.fct_trade_figure
    where year is not null
),

parts as (
    -- year, first month, month of a range, quarter; each '' where the period does not have it
    select
        period,
        regexp_extract(
            period, '^([0-9]{4})(?:-?([0-9]{2})(?:\.\.([0-9]{2}))?|-Q([1-4]))?$', ['year', 'month', 'to_month', 'quarter']
        ) as part,
    from periods
    where period is not null
),

months as (
    select
        period,
        cast(nullif(part.year, '') as integer) as year,
        case
            when part.quarter <> '' then 3 * cast(nullif(part.quarter, '') as integer) - 2
            when part.month <> '' then cast(nullif(part.month, '') as integer)
            when part.year <> '' then 1
        end as first_month,
        case
            when part.quarter <> '' then 3 * cast(nullif(part.quarter, '') as integer)
            when part.to_month <> '' then cast(nullif(part.to_month, '') as integer)
            when part.month <> '' then cast(nullif(part.month, '') as integer)
            when part.year <> '' then 12
        end as last_month,
        case
            when part.quarter <> '' then 'quarter'
            when part.to_month <> '' then 'months'
            when part.month <> '' then 'month'
            when part.year <> '' then 'year'
        end as period_grain,
    from parts
),

valid as (
    select
        *,
        coalesce(first_month between 1 and 12 and last_month between first_month and 12, false) as is_valid,
    from months
),

final as (
    select
        period,
        case when is_valid then make_date(year, first_month, 1) end as period_start,
        case when is_valid then last_day(make_date(year, last_month, 1)) end as period_end,
        case when is_valid then period_grain end as period_grain,
    from valid
)

select * from final;

comment on view core.dim_period is 'The calendar dates of every reference period: first and last day of a year, month, quarter or year-to-date range, for time axes. Join on period; a calendar year joins as its text (2011).';
comment on column core.dim_period.period is 'Reference period as published (2011; 2011-05 or 201105 for a month; 2011-Q2 for a quarter; 2012-01..10 for months of a year)';
comment on column core.dim_period.period_start is 'First day of the period (2011 -> 2011-01-01; 2012-01..10 -> 2012-01-01); null if the period is in no known form';
comment on column core.dim_period.period_end is 'Last day of the period (2011 -> 2011-12-31; 2012-01..10 -> 2012-10-31); null if the period is in no known form';
comment on column core.dim_period.period_grain is 'year, quarter, month, or months (a range of months of one year, e.g. year to date); null if unknown';
