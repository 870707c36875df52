-- Every catalogue source (core.dim_source): id, publisher, title, licence, attribution and homepage.
select source_id, publisher, title, licence, attribution, homepage
from core.dim_source
order by source_id
